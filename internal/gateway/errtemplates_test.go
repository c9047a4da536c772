package gateway_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestErrorTemplates: the error templates of template_path shape the gateway's error answers,
// as Tyk's do: error_<code>.json, else error.json; XML requests get error_<code>.xml, else
// error.xml (built in when the directory has none); refusals from the chain and failures of
// the upstream alike, with their headers (Retry-After).
func TestErrorTemplates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"error.json":     `{"code": {{.StatusCode}}, "message": "{{.Message}}"}`,
		"error_403.json": `{"denied": "{{.Message}}"}`,
		"error_401.xml":  `<fault><reason>{{.Message}}</reason></fault>`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	up := gt.NewUpstream(t)
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	limited := gt.Keyed(gt.API("limited", "/limited/", up.URL))
	g := gt.Start(t, gt.Options{
		APIs:   []*apidef.APIDefinition{keyed, limited, gt.API("down", "/down/", "http://"+refusingAddr(t))},
		Config: func(c *config.Config) { c.TemplatePath = dir },
	})
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("limited"), Rate: 1, Per: 60})
	xml := map[string]string{"Content-Type": "application/xml"}
	g.Run(t,
		gt.Case{Name: "error.json", Path: "/keyed/x", Code: 401,
			BodyEquals: `{"code": 401, "message": "Authorization field missing"}`},
		gt.Case{Name: "error_403.json", Path: "/keyed/x", Headers: map[string]string{"Authorization": "no-such-key"}, Code: 403,
			BodyEquals: `{"denied": "Access to this API has been disallowed"}`},
		gt.Case{Name: "error_401.xml", Path: "/keyed/x", Headers: xml, Code: 401,
			BodyEquals: `<fault><reason>Authorization field missing</reason></fault>`},
		gt.Case{Name: "built-in error.xml", Path: "/keyed/x", Code: 403,
			Headers:    map[string]string{"Content-Type": "text/xml; charset=utf-8", "Authorization": "no-such-key"},
			BodyEquals: `<error>Access to this API has been disallowed</error>`},
		gt.Case{Name: "the upstream down", Path: "/down/x", Code: 502,
			BodyEquals: `{"code": 502, "message": "There was a problem proxying the request"}`},
		gt.Case{Name: "a key", Path: "/limited/x", Headers: map[string]string{"Authorization": key}, Code: 200},
	)
	r := g.Do(gt.Case{Path: "/limited/x", Headers: map[string]string{"Authorization": key}})
	gt.Check(t, gt.Case{Code: 429, BodyEquals: `{"code": 429, "message": "Rate limit exceeded"}`}, r)
	if r.Header.Get("Retry-After") == "" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("429 headers: %v, want Retry-After and JSON", r.Header)
	}
	if ct := g.Do(gt.Case{Path: "/keyed/x", Headers: xml}).Header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("an XML error's Content-Type: %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(g.Do(gt.Case{Path: "/nowhere"}).Body), &doc); err != nil {
		t.Errorf("404 for no API: %v", err)
	}
}

// TestErrorTemplateBroken: a template that does not parse, or names what templates are not
// given, stops the start with the file's name, rather than failing every error answer.
func TestErrorTemplateBroken(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"error_429.json": `{"error": "{{.Message}"}`,
		"error.xml":      `<e>{{.Request.Path}}</e>`,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.AppPath, cfg.MiddlewarePath, cfg.TemplatePath = t.TempDir(), t.TempDir(), dir
		cfg.Prometheus.Enabled = false
		g, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err == nil {
			g.Close()
			t.Errorf("%s: the gateway started", name)
			continue
		}
		if !strings.Contains(err.Error(), filepath.Join(dir, name)) {
			t.Errorf("%s: %v, want the file named", name, err)
		}
	}
}
