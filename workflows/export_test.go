package workflows

// ChangeRow is a row of a workflow's change table, for the tests of package
// workflows_test.
type ChangeRow struct {
	ID, Since string
	Retired   bool
}

// ChangeTables are the change tables by workflow type.
func ChangeTables() map[string][]ChangeRow {
	rows := func(t changeTable) []ChangeRow {
		var out []ChangeRow
		for _, ch := range t {
			out = append(out, ChangeRow{ID: ch.id, Since: ch.since, Retired: ch.retired != ""})
		}
		return out
	}
	out := map[string][]ChangeRow{}
	for typ, t := range changeTables() {
		out[typ] = rows(t)
	}
	return out
}
