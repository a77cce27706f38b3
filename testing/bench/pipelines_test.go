package bench_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
)

// Each pipeline runs on a small generated workload, and its line has the fields make bench prints,
// with the events it read and a resident set.
func TestPipelineLines(t *testing.T) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	beamtest.Must(t, err)
	dir, bin := t.TempDir(), t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/hourlygmv", "./cmd/tracejoin")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	beamtest.Must(t, bench.Generate(dir, 500))
	line := regexp.MustCompile(`^BENCH pipeline=(\w+) events=(\d+) seconds=[0-9.]+ events_per_s=[0-9]+ peak_rss_mb=[1-9][0-9]*$`)
	for _, p := range bench.Pipelines {
		if p.Name != "hourlygmv" && p.Name != "tracejoin" {
			continue
		}
		res, err := bench.Run(filepath.Join(bin, p.Name), p, dir, 500)
		beamtest.Must(t, err)
		m := line.FindStringSubmatch(res.Line())
		if m == nil || m[1] != p.Name || m[2] != map[string]string{"hourlygmv": "500", "tracejoin": "1500"}[p.Name] {
			t.Errorf("line %q", res.Line())
		}
		if n := len(beamtest.ReadLines(t, filepath.Join(dir, "out", p.Name, "output.jsonl"))); n == 0 {
			t.Errorf("%s wrote no output", p.Name)
		}
	}
}
