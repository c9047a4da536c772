package headers

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// TestMetaNumbers: numbers of a key's meta_data (as JSON decodes them, float64) reach an
// injected header with every digit, without an exponent, however large (Tyk formats them at
// float32 precision: 123456789.5 became 123456790).
func TestMetaNumbers(t *testing.T) {
	var s apidef.SessionState
	if err := json.Unmarshal([]byte(`{"meta_data": {"half": 123456789.5, "huge": 1e21, "id": 9007199254740993,
		"small": 0.000001, "neg": -42, "list": [1e21, "a", 0.5]}}`), &s); err != nil {
		t.Fatal(err)
	}
	def := &apidef.APIDefinition{VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{
		"v1": {GlobalHeaders: map[string]string{"X-Half": "$tyk_meta.half", "X-Huge": "$tyk_meta.huge", "X-Id": "$tyk_meta.id",
			"X-Small": "$tyk_meta.small", "X-Neg": "$tyk_meta.neg", "X-List": "$tyk_meta.list"}},
	}}}
	tr, err := Compile(def, nil)
	if err != nil {
		t.Fatal(err)
	}
	step, ok := tr.Step()
	if !ok {
		t.Fatal("no request step")
	}
	r := reqctx.With(httptest.NewRequest("GET", "/api/x", nil), &reqctx.State{Session: &s})
	c := &chain.Context{Version: "v1", Path: "/x", Readings: endpoint.Readings("/x")}
	if err := step.Run(httptest.NewRecorder(), r, c); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"X-Half":  "123456789.5",
		"X-Huge":  "1000000000000000000000",
		"X-Id":    "9007199254740992", // the nearest float64: JSON numbers decode as float64
		"X-Small": "0.000001",
		"X-Neg":   "-42",
		"X-List":  "1000000000000000000000,a,0.5",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// TestMetaValue: the formatting of each meta_data type, shared by header transforms and URL
// rewrites.
func TestMetaValue(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{"gold", "gold"},
		{123456789.5, "123456789.5"},
		{1e21, "1000000000000000000000"},
		{float64(42), "42"},
		{int64(-7), "-7"},
		{3, "3"},
		{[]string{"", "a", "b"}, "a,b"},
		{[]any{"a", 2.5, []any{"b"}}, "a,2.5,b"},
		{true, ""},
		{map[string]any{"x": 1}, ""},
		{nil, ""},
	} {
		if got := MetaValue(tc.in); got != tc.want {
			t.Errorf("MetaValue(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
