package chain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/chain"
)

// recorder collects what the chain did.
type recorder struct {
	ran       []string
	rendered  []string // "step: error"
	finalRuns int
}

func (rec *recorder) step(name string, err error) chain.Step {
	return chain.Step{Name: name, Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		rec.ran = append(rec.ran, name)
		return err
	}}
}

func (rec *recorder) chain(steps ...chain.Step) *chain.Chain {
	return chain.New(steps,
		func(w http.ResponseWriter, r *http.Request, c *chain.Context) {
			rec.finalRuns++
			w.WriteHeader(http.StatusTeapot)
		},
		func(w http.ResponseWriter, r *http.Request, c *chain.Context, step string, err error) {
			rec.rendered = append(rec.rendered, step+": "+err.Error())
			chain.Render(w, r, err)
		})
}

func TestChainServe(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name         string
		steps        func(rec *recorder) []chain.Step
		wantRan      []string
		wantRendered []string
		wantFinal    int
		wantStatus   int
	}{
		{
			name:       "no steps runs final",
			steps:      func(rec *recorder) []chain.Step { return nil },
			wantFinal:  1,
			wantStatus: http.StatusTeapot,
		},
		{
			name: "all pass in order then final",
			steps: func(rec *recorder) []chain.Step {
				return []chain.Step{rec.step("a", nil), rec.step("b", nil), rec.step("c", nil)}
			},
			wantRan:    []string{"a", "b", "c"},
			wantFinal:  1,
			wantStatus: http.StatusTeapot,
		},
		{
			name: "stops at the first error",
			steps: func(rec *recorder) []chain.Step {
				return []chain.Step{rec.step("a", nil), rec.step("b", chain.Errorf(http.StatusForbidden, "no", nil)), rec.step("c", nil)}
			},
			wantRan:      []string{"a", "b"},
			wantRendered: []string{"b: 403 no"},
			wantStatus:   http.StatusForbidden,
		},
		{
			name: "plain error rendered as 500",
			steps: func(rec *recorder) []chain.Step {
				return []chain.Step{rec.step("a", boom), rec.step("b", nil)}
			},
			wantRan:      []string{"a"},
			wantRendered: []string{"a: boom"},
			wantStatus:   http.StatusInternalServerError,
		},
		{
			name: "ErrHandled stops silently",
			steps: func(rec *recorder) []chain.Step {
				return []chain.Step{rec.step("a", nil), {Name: "plugin", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
					rec.ran = append(rec.ran, "plugin")
					w.WriteHeader(http.StatusAccepted)
					return chain.ErrHandled
				}}, rec.step("c", nil)}
			},
			wantRan:    []string{"a", "plugin"},
			wantStatus: http.StatusAccepted,
		},
		{
			name: "wrapped ErrHandled stops silently",
			steps: func(rec *recorder) []chain.Step {
				return []chain.Step{rec.step("a", fmt.Errorf("plugin answered: %w", chain.ErrHandled)), rec.step("b", nil)}
			},
			wantRan:    []string{"a"},
			wantStatus: http.StatusOK, // nothing written by anyone
		},
		{
			name: "last step fails",
			steps: func(rec *recorder) []chain.Step {
				return []chain.Step{rec.step("a", nil), rec.step("b", chain.Errorf(http.StatusTooManyRequests, chain.MsgRateLimitExceeded, nil))}
			},
			wantRan:      []string{"a", "b"},
			wantRendered: []string{"b: 429 Rate limit exceeded"},
			wantStatus:   http.StatusTooManyRequests,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			ch := rec.chain(tc.steps(rec)...)
			w := httptest.NewRecorder()
			ch.Serve(w, httptest.NewRequest("GET", "/", nil), &chain.Context{})
			if !slices.Equal(rec.ran, tc.wantRan) {
				t.Errorf("steps ran %q, want %q", rec.ran, tc.wantRan)
			}
			if !slices.Equal(rec.rendered, tc.wantRendered) {
				t.Errorf("rendered %q, want %q", rec.rendered, tc.wantRendered)
			}
			if rec.finalRuns != tc.wantFinal {
				t.Errorf("final ran %d times, want %d", rec.finalRuns, tc.wantFinal)
			}
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
		})
	}
}

func TestChainSteps(t *testing.T) {
	rec := &recorder{}
	ch := rec.chain(rec.step("auth", nil), rec.step("quota", nil))
	if got, want := ch.Steps(), []string{"auth", "quota"}; !slices.Equal(got, want) {
		t.Errorf("Steps() = %q, want %q", got, want)
	}
	if got := rec.chain().Steps(); len(got) != 0 {
		t.Errorf("Steps() of an empty chain = %q, want none", got)
	}
}

func TestChainPassesContext(t *testing.T) {
	c := &chain.Context{Path: "/x"}
	var seen []*chain.Context
	step := chain.Step{Name: "s", Run: func(w http.ResponseWriter, r *http.Request, got *chain.Context) error {
		seen = append(seen, got)
		got.Ignored = true
		return nil
	}}
	ch := chain.New([]chain.Step{step}, func(w http.ResponseWriter, r *http.Request, got *chain.Context) {
		seen = append(seen, got)
	}, nil)
	ch.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), c)
	if len(seen) != 2 || seen[0] != c || seen[1] != c {
		t.Errorf("steps and final saw %v, want the same context %p twice", seen, c)
	}
	if !c.Ignored {
		t.Error("a step's change to the context was lost")
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		message  string
		wantBody string
	}{
		{name: "plain", status: 403, message: "Access to this API has been disallowed",
			wantBody: "{\n    \"error\": \"Access to this API has been disallowed\"\n}"},
		{name: "empty", status: 400, message: "", wantBody: "{\n    \"error\": \"\"\n}"},
		{name: "quotes", status: 400, message: `say "hi"`, wantBody: "{\n    \"error\": \"say \\\"hi\\\"\"\n}"},
		{name: "newline", status: 400, message: "a\nb", wantBody: "{\n    \"error\": \"a\\nb\"\n}"},
		{name: "backslash", status: 400, message: `a\b`, wantBody: "{\n    \"error\": \"a\\\\b\"\n}"},
		{name: "html", status: 400, message: "<script>&", wantBody: "{\n    \"error\": \"\\u003cscript\\u003e\\u0026\"\n}"},
		{name: "unicode", status: 500, message: "héllo", wantBody: "{\n    \"error\": \"héllo\"\n}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			chain.WriteError(w, tc.status, tc.message)
			res := w.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if string(body) != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if cl := res.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length = %q, want %d", cl, len(body))
			}
			if n := res.Header.Get("X-Content-Type-Options"); n != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", n)
			}
			var decoded struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(body, &decoded); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if decoded.Error != tc.message {
				t.Errorf("decoded message = %q, want %q", decoded.Error, tc.message)
			}
		})
	}
}

func TestWriteErrorInvalidUTF8(t *testing.T) {
	w := httptest.NewRecorder()
	chain.WriteError(w, 400, "bad \xff byte")
	body := w.Body.String()
	var decoded map[string]string
	if err := json.Unmarshal([]byte(body), &decoded); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	if decoded["error"] != "bad \ufffd byte" {
		t.Errorf("decoded message = %q, want the invalid byte replaced", decoded["error"])
	}
	if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length = %q, want %d", cl, len(body))
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantStatus  int
		wantMessage string
		wantHeader  http.Header
	}{
		{
			name:        "chain error",
			err:         chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, errors.New("secret cause")),
			wantStatus:  403,
			wantMessage: chain.MsgAccessDisallowed,
		},
		{
			name: "headers copied",
			err: &chain.Error{Status: 429, Message: chain.MsgRateLimitExceeded, Header: http.Header{
				"Retry-After":           {"7"},
				"X-Ratelimit-Remaining": {"0"},
				"X-Multi":               {"a", "b"},
			}},
			wantStatus:  429,
			wantMessage: chain.MsgRateLimitExceeded,
			wantHeader: http.Header{
				"Retry-After":           {"7"},
				"X-Ratelimit-Remaining": {"0"},
				"X-Multi":               {"a", "b"},
			},
		},
		{
			name:        "empty message takes the status text",
			err:         &chain.Error{Status: http.StatusServiceUnavailable},
			wantStatus:  503,
			wantMessage: "Service Unavailable",
		},
		{
			name:        "wrapped chain error",
			err:         fmt.Errorf("context: %w", chain.Errorf(http.StatusNotFound, chain.MsgNotFound, nil)),
			wantStatus:  404,
			wantMessage: chain.MsgNotFound,
		},
		{
			name:        "plain error is a 500 without its cause",
			err:         errors.New("database password is hunter2"),
			wantStatus:  500,
			wantMessage: "Internal Server Error",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			chain.Render(w, nil, tc.err)
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			want := "{\n    \"error\": \"" + tc.wantMessage + "\"\n}"
			if w.Body.String() != want {
				t.Errorf("body = %q, want %q", w.Body.String(), want)
			}
			if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "hunter2") {
				t.Errorf("body %q shows the cause", w.Body.String())
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			for k, vs := range tc.wantHeader {
				if got := w.Header()[k]; !slices.Equal(got, vs) {
					t.Errorf("header %s = %q, want %q", k, got, vs)
				}
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "chain error", err: chain.Errorf(418, "teapot", nil), want: 418},
		{name: "wrapped chain error", err: fmt.Errorf("x: %w", chain.Errorf(401, "no", nil)), want: 401},
		{name: "joined", err: errors.Join(errors.New("a"), chain.Errorf(413, chain.MsgRequestTooLarge, nil)), want: 413},
		{name: "plain error", err: errors.New("x"), want: 500},
		{name: "nil", err: nil, want: 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := chain.StatusOf(tc.err); got != tc.want {
				t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	cause := errors.New("cause")
	tests := []struct {
		name string
		err  *chain.Error
		want string
	}{
		{name: "with cause", err: chain.Errorf(403, "Forbidden", cause), want: "403 Forbidden: cause"},
		{name: "without cause", err: chain.Errorf(404, "Not Found", nil), want: "404 Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
	if !errors.Is(chain.Errorf(403, "x", cause), cause) {
		t.Error("errors.Is does not reach the cause")
	}
}
