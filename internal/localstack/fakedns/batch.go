package fakedns

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Update changes the records of zone in one step, for APIs whose changes are atomic
// batches (Route53's ChangeResourceRecordSets): fn gets the zone's records, in
// creation order, and returns the records the zone holds afterwards (records with ID 0
// are new and get an id; Zone and Name are normalized), or an error that leaves the
// zone as it was. No other change runs in between. Each TXT name whose values changed
// is published once with its final values; a publication the sink refuses rolls the
// whole change back.
func (s *Store) Update(ctx context.Context, zone string, fn func(recs []Record) ([]Record, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	zone = Norm(zone)
	if !s.zones[zone] {
		return ErrNoZone
	}
	var mine, others []Record
	for _, r := range s.records {
		if r.Zone == zone {
			mine = append(mine, r)
		} else {
			others = append(others, r)
		}
	}
	next, err := fn(slices.Clone(mine))
	if err != nil {
		return err
	}
	for i := range next {
		r := &next[i]
		r.Zone, r.Name = zone, Norm(r.Name)
		if r.Name != zone && !strings.HasSuffix(r.Name, "."+zone) {
			return fmt.Errorf("name %s is not in zone %s", r.Name, zone)
		}
		if r.ID == 0 {
			r.ID = s.nextID
			s.nextID++
		}
	}
	before := map[string][]string{}
	for _, r := range mine {
		if r.Type == "TXT" {
			before[r.Name] = append(before[r.Name], r.Data)
		}
	}
	old := s.records
	s.records = append(others, next...)
	changed := map[string]bool{}
	for _, r := range next {
		if r.Type == "TXT" && !slices.Equal(before[r.Name], s.txtLocked(r.Name)) {
			changed[r.Name] = true
		}
	}
	for name := range before {
		if !slices.Equal(before[name], s.txtLocked(name)) {
			changed[name] = true
		}
	}
	names := make([]string, 0, len(changed))
	for n := range changed {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := s.publish(ctx, Record{Type: "TXT", Name: n}); err != nil {
			s.records = old
			// Tell the sink the values it had before, so that it is not left with the
			// refused change's names published.
			for _, m := range names {
				_ = s.publish(ctx, Record{Type: "TXT", Name: m})
			}
			return err
		}
	}
	return nil
}
