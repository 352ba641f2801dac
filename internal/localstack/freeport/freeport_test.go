package freeport

import "testing"

func TestFreePortsDistinct(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p, err := Get(true)
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

func TestGetBelow(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p, err := GetBelow(32768)
		if err != nil {
			t.Fatal(err)
		}
		if p < 10000 || p >= 32768 || seen[p] {
			t.Fatalf("port %d: want a new one in [10000, 32768)", p)
		}
		seen[p] = true
	}
	if _, err := GetBelow(10000); err == nil {
		t.Error("limit 10000: want an error")
	}
}
