package status_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/status"
)

// get fetches a path of the page from a real server.
func get(t *testing.T, srv *httptest.Server, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// TestPageFiles: each file of the page is served with its type and the headers that keep it
// from being framed, sniffed, or running anything but its own script.
func TestPageFiles(t *testing.T) {
	srv := httptest.NewServer(status.Handler())
	defer srv.Close()
	for path, ctype := range map[string]string{
		status.PagePath:   "text/html; charset=utf-8",
		status.ScriptPath: "text/javascript; charset=utf-8",
		status.StylePath:  "text/css; charset=utf-8",
	} {
		res, body := get(t, srv, "GET", path)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != ctype || len(body) < 100 {
			t.Errorf("GET %s: %d %q, %d bytes", path, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
		for h, want := range map[string]string{
			"Content-Security-Policy": status.ContentSecurityPolicy,
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("GET %s: %s %q, want %q", path, h, got, want)
			}
		}
		if res, body := get(t, srv, "HEAD", path); res.StatusCode != 200 || body != "" {
			t.Errorf("HEAD %s: %d with %d bytes", path, res.StatusCode, len(body))
		}
	}
	for _, path := range []string{"/status/", "/status/index.html", "/status/../go.mod", "/other"} {
		if res, _ := get(t, srv, "GET", path); res.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
}

// TestPolicy checks the policy the page is served with: its own origin only, no frame, no
// form submission.
func TestPolicy(t *testing.T) {
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'none'", "object-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(status.ContentSecurityPolicy, d) {
			t.Errorf("the policy lacks %q: %s", d, status.ContentSecurityPolicy)
		}
	}
	if strings.Contains(status.ContentSecurityPolicy, "unsafe") {
		t.Errorf("the policy allows something unsafe: %s", status.ContentSecurityPolicy)
	}
}

// TestPageSource checks what the policy would refuse anyway, so that the page does not break
// under it: no inline script or style, no resource from elsewhere; and that the script puts
// data in the page as text only.
func TestPageSource(t *testing.T) {
	srv := httptest.NewServer(status.Handler())
	defer srv.Close()
	_, html := get(t, srv, "GET", status.PagePath)
	_, js := get(t, srv, "GET", status.ScriptPath)
	_, css := get(t, srv, "GET", status.StylePath)

	for _, tag := range regexp.MustCompile(`(?is)<script\b[^>]*>(.*?)</script>`).FindAllStringSubmatch(html, -1) {
		if !strings.Contains(tag[0], `src="/status/status.js"`) || strings.TrimSpace(tag[1]) != "" {
			t.Errorf("inline or foreign script: %s", tag[0])
		}
	}
	for name, re := range map[string]*regexp.Regexp{
		"an event handler attribute": regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		"a style attribute":          regexp.MustCompile(`(?i)\sstyle\s*=`),
		"a style element":            regexp.MustCompile(`(?i)<style`),
		"a javascript: URL":          regexp.MustCompile(`(?i)javascript:`),
	} {
		if m := re.FindString(html); m != "" {
			t.Errorf("the page has %s: %q", name, m)
		}
	}
	for file, text := range map[string]string{"html": html, "js": js, "css": css} {
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import`).FindString(text); m != "" {
			t.Errorf("the %s loads from elsewhere: %q", file, m)
		}
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(js, sink) {
			t.Errorf("the script uses %s: every value must go in as text", sink)
		}
	}
	// The secret goes in a header, from sessionStorage, never in a URL or a cookie.
	for _, want := range []string{`"X-Tyk-Authorization": s`, "sessionStorage.setItem", `credentials: "omit"`} {
		if !strings.Contains(js, want) {
			t.Errorf("the script lacks %q", want)
		}
	}
	for _, bad := range []string{"document.cookie", "localStorage", "location.search", "location.hash"} {
		if strings.Contains(js, bad) {
			t.Errorf("the script uses %s", bad)
		}
	}
	// The secret's field has no name, so the form itself can never send it.
	if input := regexp.MustCompile(`<input[^>]*id="secret"[^>]*>`).FindString(html); input == "" || strings.Contains(input, "name=") {
		t.Errorf("the secret's field: %q, want one without a name", input)
	}
}
