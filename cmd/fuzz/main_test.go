package main

import (
	"slices"
	"testing"
)

func TestTargetsAreFoundInTheModule(t *testing.T) {
	got, err := Targets("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []Target{{"transforms/changelog", "FuzzParse"}, {"cmd/varserve", "FuzzRequest"}, {"pipelines/dwd", "FuzzParseRow"}} {
		if !slices.Contains(got, want) {
			t.Errorf("Targets misses %s (found %v)", want, got)
		}
	}
	if len(got) < 20 {
		t.Errorf("%d targets, want every parser's (at least 20): %v", len(got), got)
	}
}

func TestParseOutput(t *testing.T) {
	ok := parseOutput([]byte("fuzz: elapsed: 0s, gathering baseline coverage: 0/12 completed\n"+
		"fuzz: elapsed: 3s, execs: 1205 (401/sec), new interesting: 2 (total: 14)\n"+
		"fuzz: elapsed: 6s, execs: 26781 (8525/sec), new interesting: 5 (total: 17)\nPASS\n"), "pipelines/dwd")
	if ok != (Result{Execs: 26781, NewInteresting: 5}) {
		t.Errorf("a passing run reads as %+v", ok)
	}
	found := parseOutput([]byte("fuzz: elapsed: 2s, execs: 999 (500/sec), new interesting: 1 (total: 3)\n--- FAIL: FuzzParse (2.01s)\n"+
		"    Failing input written to testdata/fuzz/FuzzParse/b367f29307ee0fdc\n"), "transforms/changelog")
	if found.Found != "transforms/changelog/testdata/fuzz/FuzzParse/b367f29307ee0fdc" || found.Execs != 999 {
		t.Errorf("a finding reads as %+v", found)
	}
	crashed := parseOutput([]byte("panic: runtime error: index out of range\n"), "x")
	if crashed.Found != "panic: runtime error: index out of range" {
		t.Errorf("a crash reads as %+v", crashed)
	}
}

func TestValidFuzzTime(t *testing.T) {
	for s, want := range map[string]bool{"60s": true, "2000x": true, "1m30s": true, "0s": false, "0x": false, "x": false, "-1s": false, "2.5x": false, "ten": false} {
		if got := validFuzzTime(s); got != want {
			t.Errorf("validFuzzTime(%q) = %v, want %v", s, got, want)
		}
	}
}
