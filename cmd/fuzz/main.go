// Command fuzz runs every fuzz target of finbeam (the `func FuzzXxx(f *testing.F)` of its test files)
// with Go's fuzzing engine for --fuzztime each, one after another, and prints a line per target and a
// total:
//
//	FUZZ target=<package>.<FuzzXxx> execs=<n> new_interesting=<n> seconds=<s> result=ok|FOUND <file>
//
// A finding is a failing input that `go test` writes to the package's testdata/fuzz/<FuzzXxx>/; it
// then runs as a seed in every `go test`, so commit it with the fix. The command exits 1 when a target
// found something, 2 on a usage error. `make test` runs it briefly (2,000 executions a target after
// its seeds: a time as short would be spent gathering the seeds' coverage), `make fuzz` longer
// (README, "Fuzzing", says what each target asserts: testing/fuzzcheck).
//
// It must run inside finbeam's module (it calls go test).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Options configure a run.
type Options struct {
	FuzzTime string         // per target: a duration ("60s") or a number of executions ("2000x"), as go test -fuzztime takes
	Match    *regexp.Regexp // targets whose <package>.<FuzzXxx> it matches
	Root     string         // the module's directory
	Verbose  bool           // pass go test's output through
}

func main() {
	fuzztime := flag.String("fuzztime", "10s", `how long to fuzz each target: a duration ("60s") or a number of executions after the seeds ("2000x")`)
	match := flag.String("run", "", "a regular expression: only the targets whose <package dir>.<FuzzXxx> it matches (empty: all)")
	verbose := flag.Bool("v", false, "print go test's output as it comes")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: fuzz [flags]\n\nFuzzes every fuzz target of the module in the current directory for --fuzztime each.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fuzz: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	re, err := regexp.Compile(*match)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fuzz: --run: %v\n", err)
		os.Exit(2)
	}
	if !validFuzzTime(*fuzztime) {
		fmt.Fprintf(os.Stderr, "fuzz: --fuzztime=%s: want a positive duration (60s) or number of executions (2000x)\n", *fuzztime)
		os.Exit(2)
	}
	found, err := run(Options{FuzzTime: *fuzztime, Match: re, Root: ".", Verbose: *verbose})
	if err != nil {
		fmt.Fprintf(os.Stderr, "fuzz: %v\n", err)
		os.Exit(2)
	}
	if found > 0 {
		os.Exit(1)
	}
}

// validFuzzTime says whether s is what go test -fuzztime takes: a positive duration or "<n>x".
func validFuzzTime(s string) bool {
	if n, ok := strings.CutSuffix(s, "x"); ok {
		var k int
		_, err := fmt.Sscan(n, &k)
		return err == nil && k > 0 && fmt.Sprint(k) == n
	}
	d, err := time.ParseDuration(s)
	return err == nil && d > 0
}

// Target is one fuzz target.
type Target struct {
	Dir  string // the package's directory, relative to the module's
	Name string // FuzzXxx
}

func (t Target) String() string { return t.Dir + "." + t.Name }

var fuzzFunc = regexp.MustCompile(`(?m)^func (Fuzz\w*)\(\w+ \*testing\.F\)`)

// Targets lists the fuzz targets under root, by directory and name.
func Targets(root string) ([]Target, error) {
	var out []Target
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "out") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		for _, m := range fuzzFunc.FindAllSubmatch(b, -1) {
			out = append(out, Target{Dir: filepath.ToSlash(dir), Name: string(m[1])})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, err
}

// Result is what one target's run gave.
type Result struct {
	Execs, NewInteresting int64
	Seconds               float64
	Found                 string // the failing input's file, or the failure's first line; empty: none
}

var (
	progress = regexp.MustCompile(`execs: (\d+) .*new interesting: (\d+)`)
	failing  = regexp.MustCompile(`Failing input written to (\S+)`)
)

// Fuzz runs one target for d.
func Fuzz(o Options, t Target) (Result, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-fuzz", "^"+t.Name+"$", "-fuzztime", o.FuzzTime, "./"+t.Dir)
	cmd.Dir = o.Root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if o.Verbose {
		cmd.Stdout = io.MultiWriter(&out, os.Stdout)
		cmd.Stderr = cmd.Stdout
	}
	start := time.Now()
	err := cmd.Run()
	r := parseOutput(out.Bytes(), t.Dir)
	r.Seconds = time.Since(start).Seconds()
	if err != nil && r.Found == "" {
		return r, fmt.Errorf("%s: go test: %v\n%s", t, err, out.Bytes())
	}
	return r, nil
}

// parseOutput reads go test -fuzz's output: the last progress line's counts, and the failing input's
// file (relative to the module) or, failing that, the first line of a failure.
func parseOutput(out []byte, dir string) Result {
	var r Result
	sc := bufio.NewScanner(bytes.NewReader(out))
	var firstFail string
	for sc.Scan() {
		l := sc.Text()
		if m := progress.FindStringSubmatch(l); m != nil {
			fmt.Sscan(m[1], &r.Execs)
			fmt.Sscan(m[2], &r.NewInteresting)
		}
		if m := failing.FindStringSubmatch(l); m != nil {
			r.Found = filepath.ToSlash(filepath.Join(dir, m[1]))
		}
		if firstFail == "" && (strings.Contains(l, "--- FAIL") || strings.HasPrefix(strings.TrimSpace(l), "panic:")) {
			firstFail = strings.TrimSpace(l)
		}
	}
	if r.Found == "" {
		r.Found = firstFail
	}
	return r
}

func run(o Options) (found int, err error) {
	targets, err := Targets(o.Root)
	if err != nil {
		return 0, err
	}
	var total int64
	n := 0
	for _, t := range targets {
		if !o.Match.MatchString(t.String()) {
			continue
		}
		n++
		r, err := Fuzz(o, t)
		if err != nil {
			return found, err
		}
		result := "ok"
		if r.Found != "" {
			found++
			result = "FOUND " + r.Found
		}
		total += r.Execs
		fmt.Printf("FUZZ target=%s execs=%d new_interesting=%d seconds=%.1f result=%s\n", t, r.Execs, r.NewInteresting, r.Seconds, result)
	}
	if n == 0 {
		return 0, fmt.Errorf("no fuzz target matches %q", o.Match)
	}
	fmt.Printf("FUZZ targets=%d fuzztime=%s execs=%d found=%d\n", n, o.FuzzTime, total, found)
	return found, nil
}
