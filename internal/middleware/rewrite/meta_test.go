package rewrite

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestRewriteMetaNumbers: meta_data numbers reach a rewritten URL with every digit, formatted as
// header transforms format them (headers.MetaValue), and query-escaped.
func TestRewriteMetaNumbers(t *testing.T) {
	rw := compileFor(t, false, apidef.URLRewriteMeta{Path: "/n", Method: "GET", MatchPattern: `/n`,
		RewriteTo: "/to/$tyk_meta.half?huge=$tyk_meta.huge&list=$tyk_meta.list&flag=$tyk_meta.flag"})
	got, err := do(rw, "GET", "/api/n", "", nil, map[string]any{"half": 123456789.5, "huge": 1e21, "list": []any{"a b", 2.5}, "flag": true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "/to/123456789.5?huge=1000000000000000000000&list=a+b%2C2.5&flag="; got != want {
		t.Errorf("rewritten to %q, want %q", got, want)
	}
}
