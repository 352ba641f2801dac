package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// The versioning fence: every change of what a workflow does that running workflows
// must not see mid-run is a row of one table below, and nowhere else. How to add,
// read and retire a change: docs/changing-workflows.md.
//
// A chain of runs carries, in its input, how many rows of its table it has adopted
// (Changes); every continue-as-new carries every row, so a chain is current from its
// next run on, and a run of it asks workflow.GetVersion nothing. A run that carries
// fewer (an older certflow started it) asks GetVersion for each missing row once when
// it starts: "on" when this code starts the run, so the marker goes into its first
// workflow task; "off" while replaying what an older certflow recorded. Workflow code
// reads a change with has(), which records nothing and may stand anywhere, in any
// order.
// change is one row of a workflow's table.
type change struct {
	// id is the GetVersion change ID and the name in has(); recorded in histories,
	// never reused.
	id string
	// since is the day and commit that introduced it.
	since string
	// what the change does, and what the old branch did.
	what string
	// retired is the day its old branch was deleted, once no supported history could
	// reach it (its recorded histories went with it). A retired change is always in
	// effect and never asked of GetVersion; its row stays so that carried counts keep
	// their meaning.
	retired string
}

// changeTable is a workflow's changes in the order they were made. Rows are only ever
// appended: Changes counts a prefix of it (TestChangeTablesAreAppendOnly).
type changeTable []change

// Changes of the CertificateWorkflow.
const (
	changeIssuerNameAttribute   = "issuer-name-attribute"
	changeRequestTrigger        = "request-trigger"
	changeSecretFirst           = "secret-first"
	changeIssuerRecheck         = "issuer-recheck"
	changeObjectReplaced        = "object-replaced"
	changeRecheckWaits          = "recheck-waits"
	changeSecretInUse           = "secret-in-use"
	changeRealCANames           = "real-ca-names"
	changeACMEAccountRecovery   = "acme-account-recovery"
	changeLostRenewal           = "lost-renewal"
	changeARI                   = "acme-renewal-info"
	changeARIFromOrder          = "acme-renewal-info-from-order"
	changeManualSameSecond      = "manual-renew-same-second"
	changeARIRetryAfter         = "acme-renewal-info-retry-after"
	changeARIErrorBackoff       = "acme-renewal-info-error-backoff"
	changeIssueWithinTask       = "issue-within-task"
	changeReadTogether          = "inspect-secret-and-issuer-together"
	changeRenewWithinRun        = "renew-within-run"
	changeCleanupWithinIssuance = "cleanup-within-issuance"
)

var certificateChanges = changeTable{
	{id: "lazy-issuing-status", since: "2026-11-28 70e6873", retired: "2026-12-05",
		what: "Issuing=True is written only when an issuance leaves its workflow task; a next-key Secret is deleted " +
			"explicitly after a failed attempt and after adopting a revision a lost task issued (before: Issuing=True first)"},
	{id: changeIssuerNameAttribute, since: "2026-11-28 ee8f3bf",
		what: "the IssuerName search attribute follows a changed issuerRef (before: it kept the name the workflow started with)"},
	{id: changeRequestTrigger, since: "2026-11-29 28b4874",
		what: "a spec that no longer matches the request of the current certificate re-issues (RequestChanged) and cuts a " +
			"failure backoff short; the CN of a literalSubject is the one the certificate must carry (before: spec.commonName)"},
	{id: changeSecretFirst, since: "2026-11-29 05e57b6",
		what: "the Secret is evaluated before the issuer is looked up, and only an issuance needs the issuer (before: an " +
			"issuer not ready made every Certificate of it Ready=False IssuerNotReady, without a renewal timer)"},
	{id: changeIssuerRecheck, since: "2026-11-29 1114e80",
		what: "a CA signing that fails for the CA Secret asks the IssuerWorkflow to verify the Secret again at once " +
			"(before: the issuer stayed Ready until its own re-check)"},
	{id: changeObjectReplaced, since: "2026-12-05 issue 11",
		what: "a spec signal with a new UID (the Certificate deleted and created again) is a new object: its spec is " +
			"taken whatever its generation, the old one's issuance state is dropped, an issuance in flight is superseded, " +
			"and a deletion of the old UID no longer ends the workflow (before: only a higher generation was taken, and " +
			"a delete signal received before the new spec ended the workflow)"},
	{id: changeRecheckWaits, since: "2026-12-05 issue 11",
		what: "waits for an issuer to become ready and for a person's approval re-check on a timer (policy.SignalRecheck), " +
			"so none depends on one relayed signal (before: they waited for the signal only)"},
	{id: changeSecretInUse, since: "2026-12-05 issue 11",
		what: "a Secret that another Certificate wrote and still names is left alone: Ready=False DuplicateSecretName, " +
			"looked at again every policy.SignalRecheck (before: the Certificate issued into it)"},
	{id: changeRealCANames, since: "2026-12-05 issue 11",
		what: "a certificate's common name and DNS names are judged as upstream does: by the request when it is known, " +
			"otherwise case-insensitively with the common name promoted from or left among the DNS names (before: byte for " +
			"byte, so a real CA's certificate was issued again at every evaluation)"},
	{id: changeACMEAccountRecovery, since: "2026-12-05 issue 11",
		what: "an ACME order refused because the server does not know the account (accountDoesNotExist, deactivated) " +
			"registers the account again, asks the IssuerWorkflow to check again, and orders once more at once " +
			"(before: the attempt failed into the backoff)"},
	{id: changeLostRenewal, since: "2026-12-06 issue 15",
		what: "a renewal carried into the run that adopts a revision a lost task issued is done: that task's issuance was " +
			"the renewal (before: the retried task issued once more, so a worker killed mid-issuance renewed twice)"},
	{id: changeARI, since: "2026-12-06 issue 16",
		what: "an ACME issuer's certificate is renewed inside its server's renewal info window (RFC 9773), read after each " +
			"issuance, at each evaluation and again when the server's Retry-After says; a moved window moves the renewal, " +
			"with an Event; the order names the certificate it replaces (before: renewBefore or 2/3 of the lifetime only)"},
	{id: changeARIFromOrder, since: "2026-12-06 issue 16",
		what: "the order reads the new certificate's renewal information right after its download, the issuance's status " +
			"write carries the renewal time it sets, the run sleeps, and the re-reads are local activities (before: the run continued as new without sleeping " +
			"and the next run read the Secret, the issuer and the renewal information, and wrote the status again)"},
	{id: changeManualSameSecond, since: "2026-12-06 issue 16",
		what: "a manual renewal token already acted on, relayed again after a status write removed its condition, makes the " +
			"next evaluation read the Certificate: a request written again in the same second is a new one (before: it was " +
			"taken for a late relay and dropped)"},
	{id: changeARIRetryAfter, since: "2026-12-06 issue 16",
		what: "an evaluation woken by a signal before the server's Retry-After for the renewal information keeps the " +
			"window last read (before: every evaluation read it again)"},
	{id: changeARIErrorBackoff, since: "2026-12-06 issue 16",
		what: "failed reads of the renewal information in a row are retried after 1 h doubling to at most a day " +
			"(policy.ARIErrorRecheckAfter; before: every hour)"},
	{id: changeIssueWithinTask, since: "2026-12-06 issue 17",
		what: "a CA or SelfSigned issuance with a new fast key and the internal approver is one local activity " +
			"(IssueWithinTask): its key is held in memory until the target Secret takes it with the certificate " +
			"(before: a local activity per step and a next-key Secret created and deleted)"},
	{id: changeReadTogether, since: "2026-12-07 issue 17",
		what: "an evaluation that will likely issue (nothing issued yet, renewal due, a renewal asked, a new spec, a " +
			"failed attempt) reads the Secret and the issuer in one local activity (InspectSecretAndIssuer; before: " +
			"InspectSecret, then ResolveIssuer when the evaluation issues)"},
	{id: changeRenewWithinRun, since: "2026-12-07 issue 17",
		what: "the wake-up after an issuance goes on to the next cycle (the renewal) in the same run; the run continues " +
			"as new at such a wake-up only once its history reaches maxRunHistoryLength events or this worker knows " +
			"changes the run lacks (before: it continued as new at every such wake-up)"},
	{id: changeCleanupWithinIssuance, since: "2026-12-07 issue 17",
		what: "an issuance in one step (IssueWithinTask) also deletes the requests that fall out of the revision " +
			"history; only when that fails does a CleanupCertificateRequests step follow (before: always a step of its own)"},
}

// Changes of the IssuerWorkflow.
const (
	changeACMEAccountRecheck = "acme-account-recheck"
	changeVenafiIssuers      = "venafi-issuers"
	changeVaultIssuers       = "vault-issuers"
)

var issuerChanges = changeTable{
	{id: "acme-issuers", since: "2026-11-28 70e6873", retired: "2026-12-05",
		what: "ACME issuers register their account (before: Ready=False Unsupported)"},
	{id: changeACMEAccountRecheck, since: "2026-12-05 issue 11",
		what: "a Ready ACME issuer registers its account again on a timer (the worker's --acme-account-recheck-interval), " +
			"so a server that forgot the account is noticed (before: only a signal woke a Ready issuer)"},
	{id: changeVenafiIssuers, since: "2026-12-05 issue 14",
		what: "Venafi issuers are verified by vcert's connector (ping, authenticate, read the zone), Ready=False with its " +
			"words re-checked on a backoff (before: Ready=False Unsupported)"},
	{id: changeVaultIssuers, since: "2026-12-05 issue 14",
		what: "Vault issuers are checked against Vault (sys/health and a login): Ready=True VaultVerified, or Ready=False " +
			"VaultError with Vault's words, re-checked on a backoff (before: Ready=False Unsupported)"},
}

// Changes of the OrderWorkflow.
const (
	changeOrderLocalACMESteps = "order-local-acme-steps"
	changeAccountScheduler    = "account-scheduler"
	changeOrderLocalCreate    = "order-local-create"
)

var orderChanges = changeTable{
	{id: changeOrderLocalACMESteps, since: "2026-12-06 issue 16",
		what: "the authorizations' reads, the order's polls, finalize and the download are local activities (one marker " +
			"each, in the workflow task that asks), no ready status is written before the finalize (the next write says " +
			"valid, or why not), and its ChallengeWorkflows start carrying every challenge change (before: regular " +
			"activities, a workflow task each, and a ready write)"},
	{id: changeAccountScheduler, since: "2026-12-06 issue 16",
		what: "a new order waits for a slot from its ACME account's scheduler (AccountSchedulerWorkflow) before it is " +
			"created at the server, gives the slot back with its outcome when it ends, and a rateLimited answer pauses " +
			"the account and asks for a slot again (before: the order was created at once, a rateLimited answer was " +
			"retried by the step after its Retry-After)"},
	{id: changeOrderLocalCreate, since: "2026-12-06 issue 16",
		what: "the order asks its scheduler for a slot by update (a free slot comes in the answer, no signal back), is " +
			"created (or resumed) at the server by a local activity in the workflow task that got the slot, tells the " +
			"scheduler it was created only when the account has window limits and without waiting for the signal's " +
			"delivery, and its finalize waits up to 3 s in the activity for the CSR to be processed (before: the slot " +
			"always granted by signal, a regular activity, a workflow task each for its completion and the signal's, " +
			"and the processing order polled on timers from 1 s)"},
}

// Changes of the ChallengeWorkflow.
const (
	changeChallengeLocalSteps     = "challenge-local-steps"
	changeChallengeSettle         = "challenge-settle"
	changeChallengeValidUnwritten = "challenge-valid-unwritten"
)

var challengeChanges = changeTable{
	{id: changeChallengeLocalSteps, since: "2026-12-06 issue 16",
		what: "present, self check, accept, the authorization's polls and the clean up are local activities (one marker " +
			"each), and no Presenting status is written before the present: the Challenge's first write is a failed self " +
			"check's reason or the accept's Processing (before: regular activities, a workflow task each, and Presenting)"},
	{id: changeChallengeSettle, since: "2026-12-06 issue 16",
		what: "the first look at the authorization after the accept waits up to 3 s in its activity for the server's " +
			"verdict; a verdict by then ends the challenge without a Processing status write or a timer (before: " +
			"Processing was written, then the authorization read on timers from 1 s)"},
	{id: changeChallengeValidUnwritten, since: "2026-12-06 issue 16",
		what: "a challenge that ends valid and cleaned up, with no status written before (no self-check failure, no " +
			"Processing), writes no last status: its Order deletes the Challenge next (before: valid was written, then " +
			"the object deleted)"},
}

// Changes of the AccountSchedulerWorkflow.
const (
	changeSlotSeq = "slot-seq"
)

var schedulerChanges = changeTable{
	{id: changeSlotSeq, since: "2026-12-06 issue 16",
		what: "grants record the request they answer: a request of an order with a higher Seq than its active grant " +
			"gives that grant back instead of getting it again, a release gives back only its own request's slot, and a " +
			"request carries the pause of the refusal before it, so an order refused as rateLimited waits out the pause " +
			"whichever of its release and its next request is read first (before: a request read before the release " +
			"got the old grant again, past the pause)"},
}

// changeTables are the tables by workflow type, as worker.Register names the types.
func changeTables() map[string]changeTable {
	return map[string]changeTable{"CertificateWorkflow": certificateChanges, "IssuerWorkflow": issuerChanges,
		"OrderWorkflow": orderChanges, "ChallengeWorkflow": challengeChanges, "AccountSchedulerWorkflow": schedulerChanges}
}

// changeSet is which changes of a table one run has in effect.
type changeSet struct {
	ctx   workflow.Context
	table changeTable
	fixed []bool // in effect without asking: carried or retired
}

// resolveChanges decides, at the start of a run, which changes the run has in
// effect. A run that carries more changes than this worker knows was started or
// continued by a newer certflow: running it the old way would leave a history the
// newer code cannot replay, so the workflow task fails instead; it is retried, shows
// in the UI as a task failure, and succeeds on an upgraded worker.
func resolveChanges(ctx workflow.Context, table changeTable, carried int) changeSet {
	if carried > len(table) {
		panic(fmt.Sprintf("workflow input adopts %d versioned changes, this worker knows %d: upgrade the workers before the watcher", carried, len(table)))
	}
	s := changeSet{ctx: ctx, table: table, fixed: make([]bool, len(table))}
	for i, ch := range table {
		s.fixed[i] = ch.retired != "" || i < carried
		if !s.fixed[i] {
			// Live, this records the marker now, in the run's first task, whatever
			// reads the change later and wherever.
			workflow.GetVersion(ctx, ch.id, workflow.DefaultVersion, 1)
		}
	}
	return s
}

// all reports whether the run has every change of its table in effect.
func (s changeSet) all() bool {
	for i, ch := range s.table {
		if !s.fixed[i] && workflow.GetVersion(s.ctx, ch.id, workflow.DefaultVersion, 1) != 1 {
			return false
		}
	}
	return true
}

// has reports whether the run has the change in effect. It records nothing: a change
// the run does not carry was asked of GetVersion when the run started, and asking
// again reads the SDK's answer. That answer may still turn from "off" to "on" while
// an older certflow's history replays (its marker stands where that code first asked,
// maybe in a later task), which keeps each read equal to the old code's at the same
// place. Asking for a retired or unknown change is a programming error.
func (s changeSet) has(id string) bool {
	for i, ch := range s.table {
		if ch.id != id {
			continue
		}
		if ch.retired != "" {
			panic("workflow change " + id + " is retired: delete its old branch")
		}
		return s.fixed[i] || workflow.GetVersion(s.ctx, id, workflow.DefaultVersion, 1) == 1
	}
	panic("unknown workflow change " + id)
}
