package sdktest_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/sdk"
	"github.com/gatehouse/gatehouse/sdk/sdktest"
)

// addFooBar is the seed document's post hook.
func addFooBar(rw http.ResponseWriter, r *http.Request) { r.Header.Add("Foo", "Bar") }

// authCheck lets in the token "abc" as a stored session, refuses the rest.
func authCheck(rw http.ResponseWriter, r *http.Request) {
	if sdk.GetAuthToken(r) != "abc" {
		rw.WriteHeader(http.StatusForbidden)
		return
	}
	sdk.SetSession(r, &apidef.SessionState{Alias: "abc-session"}, true)
}

func configEcho(rw http.ResponseWriter, r *http.Request) {
	if def := sdk.GetDefinition(r); def != nil {
		rw.Header().Set("X-Greeting", def.ConfigData["greeting"].(string))
	}
}

func TestRun(t *testing.T) {
	t.Run("a hook that changes the request lets it go on", func(t *testing.T) {
		res := sdktest.Run(addFooBar, sdktest.NewRequest("GET", "/api/get", nil))
		if !res.Continue || res.Wrote || res.Request.Header.Get("Foo") != "Bar" {
			t.Errorf("result %+v, header %v", res, res.Request.Header)
		}
	})
	t.Run("an auth hook sets a stored session", func(t *testing.T) {
		res := sdktest.Run(authCheck, sdktest.NewRequest("GET", "/api/get", nil, sdktest.WithToken("abc")))
		if !res.Continue || !res.SessionSet || !res.Stored || res.Session.Alias != "abc-session" || res.Session.KeyID != "abc" {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("an auth hook refuses", func(t *testing.T) {
		res := sdktest.Run(authCheck, sdktest.NewRequest("GET", "/api/get", nil, sdktest.WithToken("nope")))
		if res.Continue || !res.Wrote || res.Response.Code != http.StatusForbidden || res.SessionSet {
			t.Errorf("result %+v", res)
		}
	})
	// The gateway counts a flush as an answer (200), as net/http does: the hook reaches the
	// writer's Flush through http.NewResponseController, and sdktest must report the same.
	t.Run("a hook that flushes has answered", func(t *testing.T) {
		var flushErr error
		res := sdktest.Run(func(w http.ResponseWriter, r *http.Request) {
			flushErr = http.NewResponseController(w).Flush()
		}, sdktest.NewRequest("GET", "/", nil))
		if flushErr != nil {
			t.Fatalf("ResponseController.Flush() = %v, want nil", flushErr)
		}
		if res.Continue || !res.Wrote || res.Response.Code != http.StatusOK || !res.Response.Flushed {
			t.Errorf("result %+v (code %d, flushed %v), want an answer with 200", res, res.Response.Code, res.Response.Flushed)
		}
	})
	t.Run("an informational status is not an answer", func(t *testing.T) {
		res := sdktest.Run(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
		}, sdktest.NewRequest("GET", "/", nil))
		if !res.Continue || res.Wrote {
			t.Errorf("result %+v, want the request to go on", res)
		}
	})
	t.Run("config data", func(t *testing.T) {
		res := sdktest.Run(configEcho, sdktest.NewRequest("GET", "/", nil, sdktest.WithConfigData(map[string]any{"greeting": "hi"})))
		if got := res.Response.Header().Get("X-Greeting"); got != "hi" {
			t.Errorf("X-Greeting = %q", got)
		}
	})
	t.Run("config data as the gateway holds it", func(t *testing.T) {
		// The gateway reads config_data from JSON: a number the test writes as an int is a
		// float64 to the plugin, as it would be on the gateway.
		var got any
		sdktest.Run(func(w http.ResponseWriter, r *http.Request) { got = sdk.GetDefinition(r).ConfigData["n"] },
			sdktest.NewRequest("GET", "/", nil, sdktest.WithConfigData(map[string]any{"n": 5})))
		if got != 5.0 {
			t.Errorf("config_data.n = %#v, want float64 5", got)
		}
	})
	t.Run("a panic is reported", func(t *testing.T) {
		res := sdktest.Run(func(http.ResponseWriter, *http.Request) { panic("boom") }, sdktest.NewRequest("GET", "/", nil))
		if res.Panic != "boom" || res.Continue {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("a nil session is a misuse", func(t *testing.T) {
		res := sdktest.Run(func(w http.ResponseWriter, r *http.Request) { sdk.SetSession(r, nil, false) }, sdktest.NewRequest("GET", "/", nil))
		if res.Err == nil || res.Continue {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("session given to the hook", func(t *testing.T) {
		var seen string
		sdktest.Run(func(w http.ResponseWriter, r *http.Request) { seen = sdk.GetSession(r).Alias },
			sdktest.NewRequest("GET", "/", nil, sdktest.WithSession(&apidef.SessionState{Alias: "bob", KeyID: "k"})))
		if seen != "bob" {
			t.Errorf("GetSession().Alias = %q", seen)
		}
	})
}

func TestRunResponse(t *testing.T) {
	res := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewBufferString("upstream"))}
	hook := func(rw http.ResponseWriter, res *http.Response, req *http.Request) {
		res.Header.Add("X-Response-Added", "resp-added")
		res.Body = io.NopCloser(bytes.NewBufferString(`{"message":"Hi! I'm a response plugin"}`))
	}
	_, wrote, p := sdktest.RunResponse(hook, res, sdktest.NewRequest("GET", "/", nil))
	body, _ := io.ReadAll(res.Body)
	if wrote || p != nil || res.Header.Get("X-Response-Added") != "resp-added" || string(body) != `{"message":"Hi! I'm a response plugin"}` {
		t.Errorf("wrote %v panic %v header %v body %s", wrote, p, res.Header, body)
	}
	rec, wrote, _ := sdktest.RunResponse(func(rw http.ResponseWriter, res *http.Response, req *http.Request) {
		rw.WriteHeader(http.StatusForbidden)
	}, res, sdktest.NewRequest("GET", "/", nil))
	if !wrote || rec.Code != http.StatusForbidden {
		t.Errorf("wrote %v code %d", wrote, rec.Code)
	}
	rec, wrote, _ = sdktest.RunResponse(func(rw http.ResponseWriter, res *http.Response, req *http.Request) {
		if err := http.NewResponseController(rw).Flush(); err != nil {
			t.Errorf("ResponseController.Flush() = %v, want nil", err)
		}
	}, res, sdktest.NewRequest("GET", "/", nil))
	if !wrote || rec.Code != http.StatusOK {
		t.Errorf("after a flush: wrote %v code %d, want an answer with 200", wrote, rec.Code)
	}
}

// traced is a plugin function that works in its span.
func traced(rw http.ResponseWriter, r *http.Request) {
	span := sdk.SpanFromContext(r.Context())
	span.SetAttributes(slog.String("tenant", r.Header.Get("X-Tenant")))
	ctx, child := sdk.StartSpan(r.Context(), "lookup", slog.Int("n", 2))
	_, grand := sdk.StartSpan(ctx, "query")
	grand.RecordError(errors.New("timeout"))
	grand.End()
	child.AddEvent("found")
	child.End()
	r.Header.Set("X-Span", span.SpanID())
}

func TestWithSpan(t *testing.T) {
	span := &sdktest.Span{Name: "traced"}
	r := sdktest.NewRequest("GET", "/api/x", nil, sdktest.WithSpan(span))
	r.Header.Set("X-Tenant", "t1")
	res := sdktest.Run(traced, r)
	if !res.Continue || span.Attr("tenant").String() != "t1" || res.Request.Header.Get("X-Span") != span.SpanID() {
		t.Errorf("the hook's span: attrs %v, X-Span %q (span %s)", span.Attrs(), res.Request.Header.Get("X-Span"), span.SpanID())
	}
	lookup := span.Child("lookup")
	if lookup == nil || !lookup.Ended() || lookup.Attr("n").Int64() != 2 || !slices.Equal(lookup.Events(), []string{"found"}) {
		t.Fatalf("the plugin's span: %+v", lookup)
	}
	q := lookup.Child("query")
	if q == nil || !q.Ended() || len(q.Errors()) != 1 || lookup.SpanID() == q.SpanID() {
		t.Errorf("the plugin's grandchild span: %+v", q)
	}
	// Without WithSpan the same function runs against spans that do nothing.
	if res := sdktest.Run(traced, sdktest.NewRequest("GET", "/api/x", nil)); !res.Continue || res.Request.Header.Get("X-Span") != "" {
		t.Errorf("without a span: %+v", res)
	}
}
