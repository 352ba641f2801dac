package version

import (
	"strings"
	"testing"
)

func TestOfWorkerIdentity(t *testing.T) {
	for _, tc := range []struct{ identity, want string }{
		{"4242@worker-7d9f@certflow-worker/v0.1.0", "v0.1.0"},
		{"1@h@certflow-worker/v1.2.3-rc.1", "v1.2.3-rc.1"},
		{"1@h@certflow-worker/v1.2.3@extra", "v1.2.3"},
		{"4242@worker-7d9f@certflow", ""}, // the SDK's default: the task queue
		{"4242@worker-7d9f@", ""},
		{"", ""},
		{"certflow-worker/v1.0.0", ""}, // not in the identity's last part
	} {
		if got := OfWorkerIdentity(tc.identity); got != tc.want {
			t.Errorf("OfWorkerIdentity(%q) = %q, want %q", tc.identity, got, tc.want)
		}
	}
}

func TestWorkerIdentityNamesThisVersion(t *testing.T) {
	id := WorkerIdentity()
	if got := OfWorkerIdentity(id); got != Version {
		t.Errorf("OfWorkerIdentity(%q) = %q, want %q", id, got, Version)
	}
	if strings.Count(id, "@") != 2 {
		t.Errorf("WorkerIdentity %q is not <pid>@<host>@<build>", id)
	}
}
