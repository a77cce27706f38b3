package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/beamtest"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main) }

func TestSameSeedSameBytes(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for dir, seed := range map[string]string{a: "5", b: "5", c: "6"} {
		if res := beamtest.RunCommand(t, "--dir="+dir, "--seed="+seed, "--events=300"); res.ExitCode != 0 {
			t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
		}
	}
	for name := range gen.Files {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		z, _ := os.ReadFile(filepath.Join(c, name))
		if len(x) == 0 || string(x) != string(y) {
			t.Errorf("%s: seed 5 twice gave different files (%d and %d bytes)", name, len(x), len(y))
		}
		if string(x) == string(z) {
			t.Errorf("%s: seeds 5 and 6 gave the same file", name)
		}
	}
}

// gen says how many lines each file holds, which is not --events for every file.
func TestSaysTheLinesOfEachFile(t *testing.T) {
	dir := t.TempDir()
	res := beamtest.RunCommand(t, "--dir="+dir, "--events=300")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	for name := range gen.Files {
		n := len(beamtest.ReadLines(t, filepath.Join(dir, name)))
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + ` +` + fmt.Sprint(n) + ` lines$`).MatchString(res.Stderr) {
			t.Errorf("stderr does not say %s holds %d lines:\n%s", name, n, res.Stderr)
		}
	}
}
