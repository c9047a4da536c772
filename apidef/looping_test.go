package apidef_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

func TestLoopingName(t *testing.T) {
	for name, want := range map[string]string{
		"Billing Service #finance": "Billing-Service",
		"orders.v2 (beta)":         "orders-v2-beta-",
		"plain":                    "plain",
		"#only-a-category":         "-only-a-category",
		"Ünïcode API":              "-n-code-API",
		"":                         "",
	} {
		if got := apidef.LoopingName(name); got != want {
			t.Errorf("LoopingName(%q) = %q, want %q", name, got, want)
		}
	}
	for s, want := range map[string]bool{"tyk://x": true, "TYK://x": true, "tyk:/x": false, "http://tyk://": false, "tyk": false} {
		if got := apidef.IsLoopTarget(s); got != want {
			t.Errorf("IsLoopTarget(%q) = %v", s, got)
		}
	}
}
