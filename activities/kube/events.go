package kube

import (
	"strings"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// maxCoalescedMessage bounds the message of an Event that says several steps.
const maxCoalescedMessage = 1024

// issuanceStepReasons are the reasons of the Events that narrate an issuance, as
// upstream writes them. Any other Event (RenewalInfo, a failure's Warning) says
// something a person filters for by its reason, and stays an Event of its own.
var issuanceStepReasons = map[string]bool{
	cmapi.ReasonIssuing: true, "Generated": true, "Requested": true, cmapi.ReasonIssued: true,
}

// coalesceEvents makes one Event of each run of consecutive issuance step Events of
// the same type: a status write that goes out once per issuance says its steps
// (Issuing, Generated, Requested, Issued) in one Event, in the order they happened,
// under the last step's reason, instead of an API write each. kubectl describe shows
// it as one line.
func coalesceEvents(events []Event) []Event {
	var out []Event
	for _, e := range events {
		if n := len(out); n > 0 && out[n-1].Type == e.Type && issuanceStepReasons[out[n-1].Reason] && issuanceStepReasons[e.Reason] &&
			len(out[n-1].Message)+len(". ")+len(e.Message) <= maxCoalescedMessage {
			last := &out[n-1]
			last.Reason = e.Reason
			last.Message = strings.TrimSuffix(strings.TrimSpace(last.Message), ".") + ". " + strings.TrimSpace(e.Message)
			continue
		}
		out = append(out, e)
	}
	return out
}
