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

// TestConn: a connection context carries the State set on it to the requests above it, and
// nothing once it is ended; it keeps what its context carried below it (values and
// cancellation), and a State carried by the request itself (With, Holder) comes first.
func TestConn(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "below"))
	conn := reqctx.NewConn(parent)
	// As net/http derives a request's context from its connection's.
	reqCtx, stop := context.WithCancel(conn)
	defer stop()
	r := httptest.NewRequest(http.MethodGet, "/x", nil).WithContext(reqCtx)
	if reqctx.From(r) != nil {
		t.Fatal("a connection with no State set: From is not nil")
	}
	if got := reqctx.ConnFor(r); got != conn {
		t.Fatalf("ConnFor = %p, want the connection's %p", got, conn)
	}
	st := &reqctx.State{Token: "a"}
	conn.Set(st)
	if got := reqctx.From(r); got != st {
		t.Errorf("From = %p, want the State set %p", got, st)
	}
	if got := reqctx.FromContext(reqCtx); got != st {
		t.Errorf("FromContext = %p, want the State set %p", got, st)
	}
	own := &reqctx.State{Token: "own"}
	if got := reqctx.From(reqctx.With(r, own)); got != own {
		t.Errorf("a request carrying its own State: From = %p, want %p", got, own)
	}
	if v := r.Context().Value(otherKey{}); v != "below" {
		t.Errorf("a value below the connection reads %v, want %q", v, "below")
	}
	conn.Set(nil)
	if got := reqctx.From(r); got != nil {
		t.Errorf("after Set(nil) From = %p, want nil", got)
	}
	cancel()
	<-r.Context().Done() // never returns if cancellation did not pass through the connection
}

// TestConnForHTTP1Only: ConnFor finds a connection context only for HTTP/1 requests (an HTTP/2
// connection serves its streams side by side) and only where there is one.
func TestConnForHTTP1Only(t *testing.T) {
	conn := reqctx.NewConn(context.Background())
	for _, tc := range []struct {
		name  string
		major int
		ctx   context.Context
		want  *reqctx.Conn
	}{
		{"HTTP/1.1", 1, conn, conn},
		{"HTTP/2", 2, conn, nil},
		{"no connection context", 1, context.Background(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil).WithContext(tc.ctx)
			r.ProtoMajor = tc.major
			if got := reqctx.ConnFor(r); got != tc.want {
				t.Errorf("ConnFor = %p, want %p", got, tc.want)
			}
		})
	}
}
