package workflows

import "testing"

func TestRequestsToDelete(t *testing.T) {
	tests := []struct {
		revision, keep, prevKeep int
		from, to                 int // to < from: nothing
	}{
		{1, 1, 0, 1, 0},  // first issuance: nothing older
		{2, 1, 1, 1, 1},  // keep 1: delete the previous revision
		{5, 2, 2, 3, 3},  // keep 2: delete revision 3
		{5, 1, 3, 2, 4},  // limit lowered from 3 to 1: delete 2..4
		{3, 5, 5, 1, -2}, // limit above the revision count: nothing
		{10, 3, 1, 7, 7}, // limit raised: only the one that falls out now
	}
	for _, tc := range tests {
		from, to := requestsToDelete(tc.revision, tc.keep, tc.prevKeep)
		if to < from && tc.to < tc.from {
			continue
		}
		if from != tc.from || to != tc.to {
			t.Errorf("requestsToDelete(%d, %d, %d) = %d..%d, want %d..%d", tc.revision, tc.keep, tc.prevKeep, from, to, tc.from, tc.to)
		}
	}
}
