package reqctx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/reqctx"
)

type otherKey struct{}

// TestHolder: a request attached to a Holder carries its State (From, FromContext), and keeps
// what its context carried below it: values and cancellation, also for contexts derived from it
// (as the transport derives its own).
func TestHolder(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "below"))
	in := httptest.NewRequest(http.MethodGet, "/x", nil).WithContext(parent)
	h := new(reqctx.Holder)
	r := h.Attach(in)
	h.State.Token = "tok"
	if st := reqctx.From(r); st != &h.State || st.Token != "tok" {
		t.Fatalf("From = %p, want the holder's State %p", st, &h.State)
	}
	if reqctx.From(in) != nil {
		t.Error("the request attached was changed: it carries the State too")
	}
	child, stop := context.WithCancel(r.Context())
	defer stop()
	if st := reqctx.FromContext(child); st != &h.State {
		t.Errorf("FromContext(derived) = %p, want %p", st, &h.State)
	}
	if v := child.Value(otherKey{}); v != "below" {
		t.Errorf("a value below the holder reads %v, want %q", v, "below")
	}
	cancel()
	<-child.Done() // never returns if cancellation did not pass through the holder
	if r.Context().Err() != context.Canceled {
		t.Errorf("Err = %v, want Canceled", r.Context().Err())
	}
}
