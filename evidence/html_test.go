package evidence

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium is Debian's headless browser; the test fails, not skips,
// without it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("chromium is not installed: the report is checked in a real browser; install it with `apt-get install -y chromium` (Debian) and run again")
	return ""
}

func headless(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
		"--no-first-run", "--user-data-dir=" + filepath.Join(home, "profile")}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func TestReportRendersInChromium(t *testing.T) {
	bin := chromium(t)
	h := newHistory(t)
	es := unpack(t, h.export(t, h.options()))
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, fileOf(t, es, "report.html"), 0o644); err != nil {
		t.Fatal(err)
	}
	html := string(fileOf(t, es, "report.html"))
	// Self-contained: nothing is fetched from anywhere.
	if regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).MatchString(html) || strings.Contains(html, "@import") {
		t.Error("report.html refers to an external asset")
	}
	dom := string(headless(t, bin, "--dump-dom", "file://"+page))
	for _, want := range []string{
		"<title>nhi evidence: 2026-03-02T09:00:00Z to",
		`<svg id="chart"`, `class="series" data-control="NHI-SEC-01"`,
		`<table id="controls">`, `<table id="open-gaps">`, `<table id="accepted-gaps">`, `<table id="scope">`, `<table id="schedule-gaps">`,
		"carol@example.com", "rotation scheduled with the vendor",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page has no %q", want)
		}
	}
	// Each series is a polyline with a point per scan.
	pts := regexp.MustCompile(`data-control="NHI-SEC-01"[^>]*points="([^"]+)"`).FindStringSubmatch(dom)
	if pts == nil || len(strings.Fields(pts[1])) != 4 {
		t.Errorf("the NHI-SEC-01 series: %v, want 4 points", pts)
	}
	shot := filepath.Join(dir, "report.png")
	headless(t, bin, "--screenshot="+shot, "--window-size=1200,1600", "file://"+page)
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 20000 {
		t.Errorf("the screenshot is %d bytes: the page did not render", len(png))
	}
}
