package oauth

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestNotifier: a notification reaches its receiver with Tyk's headers and body; one the
// receiver fails is tried 3 times, 10 s apart in Tyk (here shortened); Close ends the retries.
func TestNotifier(t *testing.T) {
	old := notifyRetryEvery
	notifyRetryEvery = 20 * time.Millisecond
	t.Cleanup(func() { notifyRetryEvery = old })

	var mu sync.Mutex
	var got []Notification
	var secrets, agents []string
	fails := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n Notification
		_ = json.Unmarshal(body, &n)
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/fail" {
			fails++
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		got = append(got, n)
		secrets = append(secrets, r.Header.Get("X-Tyk-Shared-Secret"))
		agents = append(agents, r.Header.Get("User-Agent"))
	}))
	t.Cleanup(recv.Close)

	n := NewNotifier(nil)
	n.Send("oa", recv.URL+"/ok", "shh", Notification{NewOAuthToken: "tok", RefreshToken: "rt", NotificationType: "new"})
	n.Send("oa", recv.URL+"/fail", "shh", Notification{NewOAuthToken: "tok2"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		done := len(got) == 1 && fails == notifyAttempts
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d, failed %d times, want 1 and %d", len(got), fails, notifyAttempts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.Close()
	mu.Lock()
	defer mu.Unlock()
	if got[0] != (Notification{NewOAuthToken: "tok", RefreshToken: "rt", NotificationType: "new"}) || secrets[0] != "shh" || agents[0] != "Tyk-Gatewy-Notifications" {
		t.Errorf("received %+v with secret %q and agent %q", got[0], secrets[0], agents[0])
	}
	if fails != notifyAttempts {
		t.Errorf("a failing receiver was tried %d times, want %d", fails, notifyAttempts)
	}

	// Close ends a notification waiting for its next attempt.
	notifyRetryEvery = time.Hour
	n = NewNotifier(nil)
	n.Send("oa", recv.URL+"/fail", "shh", Notification{})
	closed := make(chan struct{})
	go func() { n.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a retry an hour away")
	}
}
