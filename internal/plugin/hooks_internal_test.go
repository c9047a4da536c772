package plugin

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/sdk"
)

type fakeLib map[string]any

func (f fakeLib) Lookup(s string) (any, error) {
	if v, ok := f[s]; ok {
		return v, nil
	}
	return nil, errors.New("not found")
}

// TestHookSymbols gives each hook lookup functions and exported variables of each kind: what fits
// is returned ready to call, a variable holding nil and a wrong kind are refused.
func TestHookSymbols(t *testing.T) {
	var set string
	req := RequestFunc(func(http.ResponseWriter, *http.Request) { set = "func" })
	handler := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { set = "handler" })
	varReq := RequestFunc(func(http.ResponseWriter, *http.Request) { set = "var" })
	varHandler := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { set = "var handler" })
	var nilReq RequestFunc
	resp := ResponseFunc(func(http.ResponseWriter, *http.Response, *http.Request) {})
	var nilResp ResponseFunc
	analytics := AnalyticsFunc(func(*sdk.AnalyticsRecord) {})
	var nilAnalytics AnalyticsFunc
	p := &Plugin{file: "x.so", e: &entry{symbols: []SymbolInfo{}, lib: fakeLib{
		"Func": req, "Handler": handler, "Var": &varReq, "VarHandler": &varHandler, "NilVar": &nilReq,
		"Resp": resp, "VarResp": &resp, "NilResp": &nilResp,
		"Analytics": analytics, "VarAnalytics": &analytics, "NilAnalytics": &nilAnalytics,
		"Other": func(int) int { return 0 },
	}}}
	for name, want := range map[string]string{"Func": "func", "Handler": "handler", "Var": "var", "VarHandler": "var handler"} {
		fn, err := p.RequestHook(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		fn(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		if set != want {
			t.Errorf("%s ran %q", name, set)
		}
	}
	for _, name := range []string{"Resp", "VarResp"} {
		if fn, err := p.ResponseHook(name); err != nil || fn == nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"Analytics", "VarAnalytics"} {
		if fn, err := p.AnalyticsHook(name); err != nil || fn == nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, tc := range []struct {
		name string
		get  func(string) error
		want string
	}{
		{"NilVar", func(s string) error { _, err := p.RequestHook(s); return err }, `x.so: "NilVar" is an exported variable that holds nil`},
		{"NilResp", func(s string) error { _, err := p.ResponseHook(s); return err }, `"NilResp" is an exported variable that holds nil`},
		{"NilAnalytics", func(s string) error { _, err := p.AnalyticsHook(s); return err }, `"NilAnalytics" is an exported variable that holds nil`},
		{"Func", func(s string) error { _, err := p.ResponseHook(s); return err },
			`x.so: symbol "Func" is func(http.ResponseWriter, *http.Request), but a response hook must be func(http.ResponseWriter, *http.Response, *http.Request)`},
		{"VarResp", func(s string) error { _, err := p.RequestHook(s); return err }, `symbol "VarResp" is var of type func(http.ResponseWriter, *http.Response, *http.Request), but a request hook`},
		{"Other", func(s string) error { _, err := p.AnalyticsHook(s); return err }, `symbol "Other" is func(int) int, but a analytics hook`},
		{"Missing", func(s string) error { _, err := p.RequestHook(s); return err }, `x.so has no exported symbol "Missing"`},
	} {
		if err := tc.get(tc.name); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if k, ok := KindOf(&nilResp); !ok || k != KindResponse {
		t.Errorf("KindOf(a nil response variable) = %q, %v", k, ok)
	}
	if _, ok := KindOf(func(int) int { return 0 }); ok {
		t.Error("func(int) int fits a hook")
	}
}
