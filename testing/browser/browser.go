// Package browser drives a real headless Chromium (Debian's chromium package) for tests and dev tools
// that must see a page as a person does: a screenshot (PNG) and a printout (PDF). Each call starts
// a browser of its own with a private profile, removed afterwards.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

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

// PDF prints url as the browser's print dialog would, without header and footer, to pdf.
func PDF(ctx context.Context, url, pdf string) error {
	return run(ctx, "--no-pdf-header-footer", "--print-to-pdf="+pdf, url)
}

func run(ctx context.Context, args ...string) error {
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
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("browser: %s %s: %w: %s", bin, strings.Join(args, " "), err, beamtest.Tail(string(out), 5))
	}
	return nil
}
