// Package browser drives a real headless Chromium (Debian's chromium package) for tests and dev tools
// that must see a page as a person does: a screenshot (PNG), a printout (PDF) and the DOM its scripts
// have built. Each call starts
// a browser of its own with a private profile, removed afterwards.
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/finbeam/finbeam/testing/beamtest"
)

// ErrNotInstalled says that no Chromium is on this machine.
var ErrNotInstalled = errors.New("browser: chromium is not installed (Debian: apt-get install -y chromium; make test does it)")

// Path is the Chromium binary: chromium, chromium-browser or google-chrome on $PATH.
func Path() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

// Screenshot renders url (file:// or http://127.0.0.1) in a window width × height pixels and writes
// what it shows to png.
func Screenshot(ctx context.Context, url, png string, width, height int) error {
	return run(ctx, "--hide-scrollbars", fmt.Sprintf("--window-size=%d,%d", width, height), "--screenshot="+png, url)
}

// DOM loads url and returns its DOM as the page's scripts have left it once the page has loaded (a
// page that keeps a connection open, such as server-sent events, is cut off after wait).
func DOM(ctx context.Context, url string, wait time.Duration) (string, error) {
	var out bytes.Buffer
	err := runTo(ctx, &out, "--dump-dom", fmt.Sprintf("--timeout=%d", wait.Milliseconds()), url)
	return out.String(), err
}

// PDF prints url as the browser's print dialog would, without header and footer, to pdf.
func PDF(ctx context.Context, url, pdf string) error {
	return run(ctx, "--no-pdf-header-footer", "--print-to-pdf="+pdf, url)
}

func run(ctx context.Context, args ...string) error { return runTo(ctx, nil, args...) }

// runTo runs the browser with args, its standard output to stdout (nil: discarded).
func runTo(ctx context.Context, stdout io.Writer, args ...string) error {
	bin, err := Path()
	if err != nil {
		return err
	}
	profile, err := os.MkdirTemp("", "finbeam-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-dev-shm-usage", "--user-data-dir=" + profile}, args...)...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("browser: %s %s: %w: %s", bin, strings.Join(args, " "), err, beamtest.Tail(stderr.String(), 5))
	}
	return nil
}
