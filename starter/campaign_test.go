package starter

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/workflows"
)

func TestReissueSelection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		t       reissueTargets
		want    kube.CampaignSelection
		wantErr string
	}{
		{name: "nothing chosen", t: reissueTargets{contextNamespace: "default"}, wantErr: "choose the Certificates"},
		{name: "issuer in the context's namespace", t: reissueTargets{issuer: "ca", contextNamespace: "team"},
			want: kube.CampaignSelection{IssuerName: "ca", IssuerKind: "Issuer", Namespaces: []string{"team"}}},
		{name: "issuer in -n", t: reissueTargets{issuer: "ca", namespace: "shop", contextNamespace: "team"},
			want: kube.CampaignSelection{IssuerName: "ca", IssuerKind: "Issuer", Namespaces: []string{"shop"}}},
		{name: "Issuer with -A", t: reissueTargets{issuer: "ca", allNamespaces: true}, wantErr: "Issuer is namespaced"},
		{name: "ClusterIssuer everywhere", t: reissueTargets{issuer: "ca", issuerKind: "ClusterIssuer", contextNamespace: "team"},
			want: kube.CampaignSelection{IssuerName: "ca", IssuerKind: "ClusterIssuer"}},
		{name: "ClusterIssuer narrowed by -n", t: reissueTargets{issuer: "ca", issuerKind: "clusterissuer", namespace: "shop"},
			want: kube.CampaignSelection{IssuerName: "ca", IssuerKind: "ClusterIssuer", Namespaces: []string{"shop"}}},
		{name: "ClusterIssuer with -A ignores -n", t: reissueTargets{issuer: "ca", issuerKind: "ClusterIssuer", namespace: "shop", allNamespaces: true},
			want: kube.CampaignSelection{IssuerName: "ca", IssuerKind: "ClusterIssuer"}},
		{name: "bad kind", t: reissueTargets{issuer: "ca", issuerKind: "Vault"}, wantErr: "want Issuer or ClusterIssuer"},
		{name: "kind without issuer", t: reissueTargets{issuerKind: "ClusterIssuer", allNamespaces: true}, wantErr: "--issuer-kind goes with --issuer"},
		{name: "selector in the context's namespace", t: reissueTargets{selector: "app=web", contextNamespace: "team"},
			want: kube.CampaignSelection{LabelSelector: "app=web", Namespaces: []string{"team"}}},
		{name: "selector everywhere", t: reissueTargets{selector: "app=web", allNamespaces: true},
			want: kube.CampaignSelection{LabelSelector: "app=web"}},
		{name: "bad selector", t: reissueTargets{selector: "app==(", allNamespaces: true}, wantErr: "label selector"},
		{name: "a namespace", t: reissueTargets{namespace: "shop", contextNamespace: "team"},
			want: kube.CampaignSelection{Namespaces: []string{"shop"}}},
		{name: "the whole cluster", t: reissueTargets{allNamespaces: true, contextNamespace: "team"},
			want: kube.CampaignSelection{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.t.selection()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("selection() = %+v, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("selection() = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCampaignName(t *testing.T) {
	now := time.Date(2026, 12, 6, 2, 3, 4, 0, time.UTC)
	for _, tc := range []struct {
		given, want string
		ok          bool
	}{
		{given: "", want: "reissue-20261206-020304", ok: true},
		{given: "ca-rotation.2026", want: "ca-rotation.2026", ok: true},
		{given: "CA-rotation"},
		{given: "a/b"},
		{given: "-x"},
		{given: strings.Repeat("a", 64)},
	} {
		got, err := campaignName(tc.given, now)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("campaignName(%q) = %q, %v; want %q ok=%v", tc.given, got, err, tc.want, tc.ok)
		}
	}
}

func TestFormatCampaign(t *testing.T) {
	start := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	end := start.Add(95 * time.Second)
	p := workflows.CampaignProgress{State: workflows.CampaignFinished, Selection: "Certificates of ClusterIssuer ca in all namespaces",
		Total: 500, Done: 498, Failed: 2, Rate: "50/s", Started: start, Finished: &end,
		Failures: []workflows.CampaignFailure{{Certificate: "a/web", Reason: "workflow certificate/a/web is not running"}}}
	got := formatCampaign("rotate", "campaign/rotate", "Completed", p, "http://127.0.0.1:8233/namespaces/default/workflows/campaign%2Frotate", end)
	for _, want := range []string{
		"Campaign:   rotate\n", "Workflow:   campaign/rotate (Completed)\n", "Selection:  Certificates of ClusterIssuer ca in all namespaces\n",
		"State:      Finished\n", "Rate:       50/s\n", "Total:      500\n", "Done:       498\n", "Failed:     2\n", "Remaining:  0\n",
		"Started:    2026-12-06T02:00:00Z (1m35s ago)\n", "Finished:   2026-12-06T02:01:35Z (took 1m35s)\n",
		"Web UI:     http://127.0.0.1:8233/namespaces/default/workflows/campaign%2Frotate\n",
		"Failures (the first 1 of 2):\n  a/web: workflow certificate/a/web is not running\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}

	list := formatCampaignList([]campaignRow{
		{Name: "rotate", Status: "Completed", Started: start, Progress: &p},
		{Name: "old", Status: "Terminated", Started: start},
	})
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		strings.Join(strings.Fields(lines[1]), " ") != "rotate Completed Finished 498/500 2 0 50/s 2026-12-06T02:00:00Z" ||
		strings.Join(strings.Fields(lines[2]), " ") != "old Terminated - - - - - 2026-12-06T02:00:00Z" {
		t.Errorf("list:\n%s", list)
	}
}
