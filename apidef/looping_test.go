package apidef_test

import (
	"strings"
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

// TestParseLoopControls: the control parameters of a looping rewrite target as written, and
// the queries refused (the rewrite package compiles a target's controls with this function).
func TestParseLoopControls(t *testing.T) {
	for q, want := range map[string]apidef.LoopControls{
		"":                   {},
		"method=post":        {Method: "POST"},
		"loop_limit=1":       {Limit: 1},
		"loop_limit=100":     {Limit: apidef.MaxLoopLimit},
		"check_limits=false": {},
		"method=Delete&loop_limit=3&check_limits=true": {Method: "DELETE", Limit: 3, CheckLimits: true},
	} {
		got, err := apidef.ParseLoopControls(q)
		if err != nil || got != want {
			t.Errorf("ParseLoopControls(%q) = %+v, %v; want %+v", q, got, err, want)
		}
	}
	for q, want := range map[string]string{
		"loop_limit=500":     `loop_limit "500": want a number from 1 to 100`,
		"loop_limit=0":       `loop_limit "0": want a number from 1 to 100`,
		"loop_limit=two":     `loop_limit "two": want a number from 1 to 100`,
		"page=2":             `query parameter "page": a looping target's query holds only method, loop_limit and check_limits`,
		"method=G%20T":       `method "G T" is not an HTTP method`,
		"method=get1":        `method "GET1" is not an HTTP method`,
		"check_limits=yes":   `check_limits "yes": want true or false`,
		"loop_limit=%zz":     `the query of a looping target: invalid URL escape`,
		"check_limits=$1":    `takes no variables`,
		"method=$tyk_meta.m": `takes no variables`,
	} {
		if _, err := apidef.ParseLoopControls(q); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseLoopControls(%q) = %v, want an error containing %q", q, err, want)
		}
	}
}
