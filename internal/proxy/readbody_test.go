package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		max      int64
		wantData string
		wantFull bool
	}{
		{name: "whole", body: "hello", max: 10, wantData: "hello", wantFull: true},
		{name: "exactly the cap", body: "hello", max: 5, wantData: "hello", wantFull: true},
		{name: "over the cap", body: "hello world", max: 5, wantData: "hello", wantFull: false},
		{name: "empty", body: "", max: 5, wantData: "", wantFull: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			data, full, err := ReadBody(r, tc.max)
			if err != nil || string(data) != tc.wantData || full != tc.wantFull {
				t.Fatalf("ReadBody = %q, %v, %v; want %q, %v", data, full, err, tc.wantData, tc.wantFull)
			}
			rest, _ := io.ReadAll(r.Body)
			if string(rest) != tc.body {
				t.Errorf("body put back = %q, want %q", rest, tc.body)
			}
		})
	}
	// Over the request's limit: the limit's error, for the caller to answer 413.
	r := httptest.NewRequest("POST", "/", strings.NewReader("0123456789"))
	r.Body = LimitBody(r, 4)
	if _, _, err := ReadBody(r, 100); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("ReadBody over the limit = %v, want ErrBodyTooLarge", err)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Body = http.NoBody
	if data, full, err := ReadBody(r, 1); data != nil || !full || err != nil {
		t.Errorf("ReadBody(NoBody) = %q, %v, %v", data, full, err)
	}
}
