package kube

import (
	"strings"
	"testing"
)

func TestCoalesceEvents(t *testing.T) {
	long := strings.Repeat("x", maxCoalescedMessage)
	for _, tc := range []struct {
		name string
		in   []Event
		want []Event
	}{
		{name: "none"},
		{name: "one", in: []Event{{"Normal", "Issued", "The certificate has been successfully issued"}},
			want: []Event{{"Normal", "Issued", "The certificate has been successfully issued"}}},
		{name: "an issuance's four steps",
			in: []Event{
				{"Normal", "Issuing", "Issuing certificate as Secret does not exist"},
				{"Normal", "Generated", `Stored new private key in temporary Secret resource "web-abcde"`},
				{"Normal", "Requested", `Created new CertificateRequest resource "web-1"`},
				{"Normal", "Issued", "The certificate has been successfully issued"},
			},
			want: []Event{{"Normal", "Issued", `Issuing certificate as Secret does not exist. Stored new private key in temporary Secret resource "web-abcde". ` +
				`Created new CertificateRequest resource "web-1". The certificate has been successfully issued`}}},
		{name: "a warning stays apart",
			in: []Event{
				{"Normal", "Issuing", "Renewing certificate as renewal was scheduled at 2026-12-06T10:00:00Z."},
				{"Warning", "Failed", "The certificate request has failed to complete and will be retried: boom"},
				{"Normal", "Issued", "The certificate has been successfully issued"},
			},
			want: []Event{
				{"Normal", "Issuing", "Renewing certificate as renewal was scheduled at 2026-12-06T10:00:00Z."},
				{"Warning", "Failed", "The certificate request has failed to complete and will be retried: boom"},
				{"Normal", "Issued", "The certificate has been successfully issued"},
			}},
		{name: "too long to say together",
			in:   []Event{{"Normal", "Issuing", long}, {"Normal", "Issued", "The certificate has been successfully issued"}},
			want: []Event{{"Normal", "Issuing", long}, {"Normal", "Issued", "The certificate has been successfully issued"}}},
		{name: "other reasons stay apart",
			in: []Event{
				{"Normal", "RenewalInfo", "The ACME server moved the renewal window"},
				{"Normal", "Issuing", "Renewing certificate as renewal was scheduled at 2026-12-06T10:00:00Z"},
				{"Warning", "Failed", "first"}, {"Warning", "Failed", "second"},
			},
			want: []Event{
				{"Normal", "RenewalInfo", "The ACME server moved the renewal window"},
				{"Normal", "Issuing", "Renewing certificate as renewal was scheduled at 2026-12-06T10:00:00Z"},
				{"Warning", "Failed", "first"}, {"Warning", "Failed", "second"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := coalesceEvents(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d Events %+v, want %+v", len(got), got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("Event %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
