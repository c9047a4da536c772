package erroroverride

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

func compile(t *testing.T, o apidef.ErrorOverrides, dir string) *Set {
	t.Helper()
	s, err := Compile(o, dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGatewayMatching: a code's rules before its class's, in order, the first match answering;
// a flag decides when set, else the message pattern, else any error of the code matches.
func TestGatewayMatching(t *testing.T) {
	s := compile(t, apidef.ErrorOverrides{
		"4xx": {{Response: apidef.ErrorResponse{StatusCode: 400, Message: "any 4xx"}}},
		"403": {
			{Match: &apidef.ErrorMatch{Flag: "QEX", MessagePattern: "nothing matches this"}, Response: apidef.ErrorResponse{StatusCode: 429, Message: "quota"}},
			{Match: &apidef.ErrorMatch{MessagePattern: "^Access to"}, Response: apidef.ErrorResponse{StatusCode: 401, Message: "by pattern"}},
			{Match: &apidef.ErrorMatch{Flag: "AKI"}, Response: apidef.ErrorResponse{StatusCode: 418, Message: "not reached"}},
		},
		"5xx": {{Match: &apidef.ErrorMatch{Flag: "URS"}, Response: apidef.ErrorResponse{StatusCode: 503}}},
	}, t.TempDir())
	tests := []struct {
		e       Error
		status  int
		message string
		ok      bool
	}{
		{Error{Status: 403, Message: "Quota exceeded", Flag: "QEX"}, 429, "quota", true},
		{Error{Status: 403, Message: "Access to this API has been disallowed", Flag: "AKI"}, 401, "by pattern", true},
		{Error{Status: 403, Message: "Key not authorised", Flag: "AKI"}, 418, "not reached", true},
		{Error{Status: 403, Message: "Something else"}, 400, "any 4xx", true},
		{Error{Status: 429, Message: "Rate limit exceeded", Flag: "RLT"}, 400, "any 4xx", true},
		// URS is an upstream's: a gateway 5xx of the same code is not matched.
		{Error{Status: 503, Message: "all hosts are down", Flag: "NHU"}, 0, "", false},
		{Error{Status: 302, Message: "no rules"}, 0, "", false},
	}
	for _, tc := range tests {
		a, ok := s.Gateway(tc.e)
		if ok != tc.ok || ok && (a.Status != tc.status || a.Message != tc.message || a.Body != nil) {
			t.Errorf("%+v: %+v %v, want %d %q %v", tc.e, a, ok, tc.status, tc.message, tc.ok)
		}
	}
	// Rules under the status Tyk answers a flag with come after those of the status answered.
	alt := compile(t, apidef.ErrorOverrides{
		"5xx": {{Response: apidef.ErrorResponse{StatusCode: 599}}},
		"500": {{Match: &apidef.ErrorMatch{Flag: "UCF"}, Response: apidef.ErrorResponse{StatusCode: 501}}},
		"502": {{Match: &apidef.ErrorMatch{Flag: "UCF"}, Response: apidef.ErrorResponse{StatusCode: 503}}},
	}, t.TempDir())
	if a, _ := alt.Gateway(Error{Status: 502, Flag: "UCF"}); a.Status != 503 {
		t.Errorf("UCF answered 502: rule of %d, want 502's first", a.Status)
	}
	delete(alt.byCode, 502)
	if a, _ := alt.Gateway(Error{Status: 502, Flag: "UCF"}); a.Status != 501 {
		t.Errorf("UCF answered 502, no 502 rule: %d, want Tyk's 500 rule before the class", a.Status)
	}
	var none *Set
	if _, ok := none.Gateway(Error{Status: 500}); ok {
		t.Error("no rules matched")
	}
}

// TestAnswers: a body template gets the status and the rule's message escaped for its content
// type; a partial rule keeps the error's message unless it has one; template files are chosen by
// the request's Content-Type.
func TestAnswers(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "problem.json"), []byte(`{"status": {{.StatusCode}}, "detail": "{{.Message}}", "params": "{{.InvalidParams}}"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "problem.xml"), []byte(`<error><detail>{{.Message}}</detail></error>`), 0o600)
	s := compile(t, apidef.ErrorOverrides{
		"401": {{Response: apidef.ErrorResponse{StatusCode: 502, Message: "Invalid token \"abc\"\nand <b>", Body: `{"error_detail": "{{.Message}}", "code": {{.statusCode}}}`}}},
		"402": {{Response: apidef.ErrorResponse{Body: `<e>{{.Message}}</e>`, Message: "a < b", Headers: map[string]string{"content-type": "application/problem+xml"}}}},
		"403": {{Response: apidef.ErrorResponse{Body: `{"m": "{{.Message}}"}`}}},
		"400": {{Response: apidef.ErrorResponse{Template: "problem", Message: `say "hi" & <go>`}}},
		"404": {{Response: apidef.ErrorResponse{StatusCode: 410}}},
		"405": {{Response: apidef.ErrorResponse{Message: "replaced", Headers: map[string]string{"Retry-After": "5", "X-Gone": ""}}}},
	}, dir)
	a, _ := s.Gateway(Error{Status: 401, Message: "Authorization field missing"})
	if want := `{"error_detail": "Invalid token \"abc\"\nand \u003cb\u003e", "code": 502}`; string(a.Body) != want || a.ContentType != "application/json" || a.Status != 502 {
		t.Errorf("inline JSON body %q (%s, %d), want %q", a.Body, a.ContentType, a.Status, want)
	}
	a, _ = s.Gateway(Error{Status: 402, Message: "x"})
	if want := `<e>a &lt; b</e>`; string(a.Body) != want || a.ContentType != "application/problem+xml" {
		t.Errorf("inline XML body %q (%s), want %q", a.Body, a.ContentType, want)
	}
	a, _ = s.Gateway(Error{Status: 403, Message: "the error's own message"})
	if want := `{"m": ""}`; string(a.Body) != want {
		t.Errorf("a body without a message of the rule's: %q, want %q (the rule's message, empty)", a.Body, want)
	}
	a, _ = s.Gateway(Error{Status: 400, Message: "m", InvalidParams: `body.age must be "positive"`})
	if want := `{"status": 400, "detail": "say \"hi\" \u0026 \u003cgo\u003e", "params": "body.age must be \"positive\""}`; string(a.Body) != want || a.ContentType != "application/json" {
		t.Errorf("JSON template file %q, want %q", a.Body, want)
	}
	a, _ = s.Gateway(Error{Status: 400, Message: "m", XML: true})
	if want := `<error><detail>say &#34;hi&#34; &amp; &lt;go&gt;</detail></error>`; string(a.Body) != want || a.ContentType != "application/xml" {
		t.Errorf("XML template file %q (%s), want %q", a.Body, a.ContentType, want)
	}
	a, _ = s.Gateway(Error{Status: 404, Message: "Not Found"})
	if a.Body != nil || a.Status != 410 || a.Message != "Not Found" {
		t.Errorf("a partial rule: %+v, want 410 with the error's message and no body", a)
	}
	a, _ = s.Gateway(Error{Status: 405, Message: "Method Not Allowed"})
	if a.Body != nil || a.Status != 405 || a.Message != "replaced" || len(a.Headers) != 2 {
		t.Errorf("a partial rule with a message and headers: %+v", a)
	}
	if _, err := Compile(apidef.ErrorOverrides{"500": {{Response: apidef.ErrorResponse{Template: "absent"}}}}, dir); err == nil || !strings.Contains(err.Error(), "neither absent.json nor absent.xml") {
		t.Errorf("a template that is not there: %v", err)
	}
	// Nothing that could render long: loops, variables, functions that build values.
	for _, body := range []string{`{{range 5000000000}}x{{end}}`, `{{printf "%99999s" "x"}}`, `{{$x := .Message}}{{$x}}`} {
		if _, err := Compile(apidef.ErrorOverrides{"500": {{Response: apidef.ErrorResponse{Body: body}}}}, dir); err == nil || !strings.Contains(err.Error(), "not allowed in an error override's body") {
			t.Errorf("%s: %v", body, err)
		}
	}
	// A body naming what it is not given fails when compiled, not on requests.
	if _, err := Compile(apidef.ErrorOverrides{"500": {{Response: apidef.ErrorResponse{Body: `{"m": "{{.Mesage}}"}`}}}}, dir); err == nil || !strings.Contains(err.Error(), "Mesage") {
		t.Errorf("a body with a misspelt field: %v", err)
	}
	// A named pipe named like a template is refused at once, never read (the read would block).
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(apidef.ErrorOverrides{"500": {{Response: apidef.ErrorResponse{Template: "pipe"}}}}, dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a template that is a named pipe: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "huge.json"), []byte(strings.Repeat("x", 70000)), 0o600)
	if _, err := Compile(apidef.ErrorOverrides{"500": {{Response: apidef.ErrorResponse{Template: "huge"}}}}, dir); err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Errorf("a template writing over 64 KiB: %v", err)
	}
}

// TestUpstreamMatching: an upstream's response matches rules without a flag, or with URS for a
// 5xx; every criterion set must hold, the pattern and the field read from the body's start.
func TestUpstreamMatching(t *testing.T) {
	s := compile(t, apidef.ErrorOverrides{
		"5xx": {
			{Match: &apidef.ErrorMatch{Flag: "URS", BodyField: "error.code", BodyValue: "OUT_OF_STOCK", MessagePattern: "(?i)stock"}, Response: apidef.ErrorResponse{StatusCode: 409}},
			{Match: &apidef.ErrorMatch{Flag: "UCF"}, Response: apidef.ErrorResponse{StatusCode: 599}},
			{Match: &apidef.ErrorMatch{Flag: "URS"}, Response: apidef.ErrorResponse{StatusCode: 503}},
		},
		"404": {{Match: &apidef.ErrorMatch{BodyField: "items.1.id", BodyValue: "7"}, Response: apidef.ErrorResponse{StatusCode: 410}}},
		"4xx": {{Match: &apidef.ErrorMatch{Flag: "URS"}, Response: apidef.ErrorResponse{StatusCode: 499}}},
	}, t.TempDir())
	tests := []struct {
		status int
		body   string
		want   int
	}{
		{500, `{"error": {"code": "OUT_OF_STOCK", "more": [1, 2]}}`, 409},
		{502, `{"error": {"code": "OTHER"}}`, 503},
		// A body cut at 4 KiB still finds what comes before the cut.
		{500, `{"error": {"code": "OUT_OF_STOCK"}, "pad": "` + strings.Repeat("x", 5000), 409},
		{404, `{"items": [{"id": 6}, {"id": 7}]}`, 410},
		{404, `{"items": [{"id": 6}]}`, 0},
		{404, `not json`, 0},
		// URS is for 5xx: a 4xx upstream answer is not matched by it.
		{400, `{}`, 0},
	}
	for _, tc := range tests {
		body := []byte(tc.body)
		if len(body) > MaxBodyRead {
			body = body[:MaxBodyRead]
		}
		a, ok := s.Upstream(tc.status, body, false)
		if got := map[bool]int{true: 0, false: 0}[ok]; ok {
			got = a.Status
			if got != tc.want {
				t.Errorf("%d %.40s: %d, want %d", tc.status, tc.body, got, tc.want)
			}
		} else if tc.want != 0 {
			t.Errorf("%d %.40s: no match, want %d", tc.status, tc.body, tc.want)
		}
	}
	// Without the body (an encoded one), only rules without body criteria match.
	if a, ok := s.Upstream(500, nil, false); !ok || a.Status != 503 {
		t.Errorf("no body: %+v %v, want 503", a, ok)
	}
	if w, b := s.Wants(500); !w || !b {
		t.Errorf("Wants(500) = %v %v, want a rule needing the body", w, b)
	}
	if w, _ := s.Wants(400); w {
		t.Error("Wants(400): only a URS rule has 4xx, which no upstream 4xx matches")
	}
	if w, _ := s.Wants(200); w {
		t.Error("Wants(200)")
	}
}

// TestReadBody: the start is read, and the body read again whole.
func TestReadBody(t *testing.T) {
	full := strings.Repeat("a", MaxBodyRead) + "tail"
	head, body, err := ReadBody(io.NopCloser(strings.NewReader(full)))
	if err != nil || len(head) != MaxBodyRead {
		t.Fatalf("head %d bytes, %v", len(head), err)
	}
	all, _ := io.ReadAll(body)
	if string(all) != full {
		t.Errorf("the body read again is %d bytes, want %d", len(all), len(full))
	}
	head, body, _ = ReadBody(io.NopCloser(strings.NewReader("short")))
	all, _ = io.ReadAll(body)
	if string(head) != "short" || string(all) != "short" {
		t.Errorf("a short body: %q, then %q", head, all)
	}
}

// TestWrite: a whole answer replaces the type and length, keeps other headers, removes those
// set empty.
func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Retry-After", "9")
	w.Header().Set("X-Tyk-Trace", "t")
	Write(w, &Answer{Status: 401, Body: []byte(`{"e": 1}`), ContentType: "application/json", Headers: []Header{{"Www-Authenticate", "Bearer"}, {"X-Tyk-Trace", ""}}})
	if w.Code != 401 || w.Body.String() != `{"e": 1}` || w.Header().Get("Content-Length") != "8" || w.Header().Get("Retry-After") != "9" ||
		w.Header().Get("Www-Authenticate") != "Bearer" || w.Header().Get("X-Tyk-Trace") != "" {
		t.Errorf("%d %q %v", w.Code, w.Body, w.Header())
	}
}

// TestLookup: values as gjson reads them for comparison; objects and arrays match nothing.
func TestLookup(t *testing.T) {
	body := []byte(`{"a": {"b": [10, {"c": null}, true, 1.50, "s", -3, 1e3]}}`)
	for path, want := range map[string]string{"a.b.0": "10", "a.b.1.c": "", "a.b.2": "true", "a.b.3": "1.5", "a.b.4": "s", "a.b.5": "-3", "a.b.6": "1000"} {
		p, _ := apidef.BodyPath(path)
		if got, ok := lookup(body, p); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", path, got, ok, want)
		}
	}
	for _, path := range []string{"a", "a.b", "a.b.7", "a.x", "a.b.-1"} {
		p, _ := apidef.BodyPath(path)
		if got, ok := lookup(body, p); ok {
			t.Errorf("%s: %q, want no value", path, got)
		}
	}
}

// TestLookupAllocations: finding the rules of a status, with a code's and a class's rules and
// Tyk's other status for a flag, allocates nothing: it runs on every error response.
func TestLookupAllocations(t *testing.T) {
	s := compile(t, apidef.ErrorOverrides{
		"5xx": {{Match: &apidef.ErrorMatch{Flag: "URS", MessagePattern: "never"}, Response: apidef.ErrorResponse{StatusCode: 500}}},
		"502": {{Match: &apidef.ErrorMatch{Flag: "NHU"}, Response: apidef.ErrorResponse{StatusCode: 503}}},
		"500": {{Match: &apidef.ErrorMatch{Flag: "EPI"}, Response: apidef.ErrorResponse{StatusCode: 503}}},
		"4xx": {{Match: &apidef.ErrorMatch{Flag: "AKI"}, Response: apidef.ErrorResponse{StatusCode: 401}}},
	}, t.TempDir())
	e := Error{Status: 502, Flag: "UCF", Message: "connection refused"}
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := s.Gateway(e); ok {
			t.Fatal("a rule matched")
		}
		if wants, _ := s.Wants(502); !wants {
			t.Fatal("the 5xx rule is for upstreams too")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per lookup, want 0", allocs)
	}
}

// TestFilesChanged: a Set tells when a template it read changed or went away, or one looked for
// and not found (problem.json, before problem.xml) appeared.
func TestFilesChanged(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("problem.xml", `<e>{{.Message}}</e>`)
	compileSet := func() *Set {
		t.Helper()
		s, err := Compile(apidef.ErrorOverrides{"500": {{Response: apidef.ErrorResponse{Template: "problem"}}}}, dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := compileSet()
	if s.FilesChanged() {
		t.Fatal("unchanged files reported changed")
	}
	write("problem.xml", `<error>{{.Message}}</error>`)
	if !s.FilesChanged() {
		t.Error("an edited template is not reported")
	}
	s = compileSet()
	write("problem.json", `{"e": {{.Message}}}`)
	if !s.FilesChanged() {
		t.Error("a template looked for first, now there, is not reported")
	}
	s = compileSet()
	if err := os.Remove(filepath.Join(dir, "problem.json")); err != nil {
		t.Fatal(err)
	}
	if !s.FilesChanged() {
		t.Error("a template gone is not reported")
	}
	if (*Set)(nil).FilesChanged() {
		t.Error("a nil Set reports a change")
	}
}
