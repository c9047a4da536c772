package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// testTimeout is the call timeout of the stores in these tests: short, so that they run fast,
// and long enough for a loaded CI machine.
const testTimeout = 500 * time.Millisecond

// recoverWithin is how soon after Redis comes back calls must work again: the bound.
const recoverWithin = 5 * time.Second

// timed runs fn and returns how long it took.
func timed(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

// wantUnavailable fails unless err matches storage.ErrUnavailable.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("%s: error %v, want one matching storage.ErrUnavailable", what, err)
	}
}

// waitWorks polls until a Set and a Get through s work, and returns how long that took; it
// fails the test after recoverWithin.
func waitWorks(t *testing.T, s *Store) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		err := s.Set(ctx, "probe", []byte("v"), 0)
		if err == nil {
			_, err = s.Get(ctx, "probe")
		}
		cancel()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > recoverWithin {
			t.Fatalf("calls still fail %v after Redis came back: %v", recoverWithin, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOneRoundTripPerRequest checks a keyed request's cost without leases (limits too small to
// lease cost the same): one script call, no session read. lease_test.go checks that leases cost
// less.
func TestOneRoundTripPerRequest(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := open(t, Options{Addrs: []string{srv.Addr}, NoLeases: true})
	ctx := t.Context()
	rate := storage.Spec{Key: "rate-limit-{k}", Limit: 1000, Window: time.Minute}
	quota := storage.Spec{Key: "quota-{k}", Limit: 1000, Window: time.Hour}
	// The first call loads the script.
	if _, err := s.Limit(ctx, rate, quota); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "apikey-k", []byte(`{"rate":1000}`), 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetCached(ctx, "apikey-k"); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats(t)
	const requests = 50
	for range requests {
		// What a keyed request does: read its session, then check its limits.
		if _, _, err := s.GetCached(ctx, "apikey-k"); err != nil {
			t.Fatal(err)
		}
		r, err := s.Limit(ctx, rate, quota)
		if err != nil || !r.Allowed() {
			t.Fatalf("Limit = %+v, %v", r, err)
		}
	}
	if n := srv.Stat(t, "evalsha"); n != requests {
		t.Errorf("%d requests made %d EVALSHA calls, want one each", requests, n)
	}
	// (Commands that scripts run are counted too, so the script's own are not checked.)
	for _, cmd := range []string{"get", "pttl", "exec", "eval"} {
		if n := srv.Stat(t, cmd); n != 0 {
			t.Errorf("%d requests made %d %s calls, want none (sessions come from the node's cache)", requests, n, strings.ToUpper(cmd))
		}
	}
}

// TestCachedSessionFollowsOtherNodes checks that a value cached by one node is dropped when
// another node changes or deletes it, within 100 ms, through Redis's invalidation messages.
func TestCachedSessionFollowsOtherNodes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	a := open(t, Options{Addrs: []string{srv.Addr}})
	b := open(t, Options{Addrs: []string{srv.Addr}})
	ctx := t.Context()
	if err := b.Set(ctx, "apikey-x", []byte("one"), 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if v, _, err := a.GetCached(ctx, "apikey-x"); err != nil || string(v) != "one" {
			t.Fatalf("GetCached = %q, %v", v, err)
		}
	}
	seen := func(want string, missing bool) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < time.Second {
			v, _, err := a.GetCached(ctx, "apikey-x")
			if missing && errors.Is(err, storage.ErrNotFound) || !missing && err == nil && string(v) == want {
				return time.Since(start)
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("node a still does not see %q (missing %t) a second after node b changed it", want, missing)
		return 0
	}
	if err := b.Set(ctx, "apikey-x", []byte("two"), 0); err != nil {
		t.Fatal(err)
	}
	if d := seen("two", false); d > 100*time.Millisecond {
		t.Errorf("node a saw node b's change after %v, want within 100ms", d)
	}
	if _, err := b.Delete(ctx, "apikey-x"); err != nil {
		t.Fatal(err)
	}
	if d := seen("", true); d > 100*time.Millisecond {
		t.Errorf("node a saw node b's delete after %v, want within 100ms", d)
	}
}

func TestUnreachableAtStart(t *testing.T) {
	t.Parallel()
	port := redistest.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s, err := New(Options{Addrs: []string{addr}, Timeout: testTimeout})
	if err != nil {
		t.Fatalf("New with Redis down: %v (it must start anyway)", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	var getErr error
	if d := timed(func() { _, getErr = s.Get(ctx, "k") }); d > testTimeout {
		t.Errorf("Get with Redis down took %v, want at most the timeout %v", d, testTimeout)
	}
	wantUnavailable(t, "Get with Redis down", getErr)
	_, err = s.Limit(ctx, storage.Spec{Key: "r", Limit: 1, Window: time.Second}, storage.Spec{})
	wantUnavailable(t, "Limit with Redis down", err)
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := s.Probe(ctx)
		if err != nil && strings.Contains(err.Error(), "connection refused") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("Probe with Redis down: %v, want an error saying why", err)
			break
		}
	}

	redistest.Start(t, redistest.Options{Port: port})
	if d := waitWorks(t, s); d > recoverWithin {
		t.Errorf("recovered %v after Redis started", d)
	}
	if rtt, err := s.Probe(ctx); err != nil || rtt <= 0 {
		t.Errorf("Probe once connected = %v, %v; want a round-trip time", rtt, err)
	}
}

// TestKilledAndRestarted kills Redis mid-run (an append-only file keeps what it acknowledged)
// and checks that calls fail promptly, recover when it is back, and that the quota counted
// before the crash is neither lost nor counted twice.
func TestKilledAndRestarted(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	s := open(t, Options{Addrs: []string{srv.Addr}, Timeout: testTimeout})
	ctx := t.Context()
	quota := storage.Spec{Key: "quota-{k}", Limit: 5, Window: time.Hour}
	for i := int64(1); i <= 3; i++ {
		r, err := s.Limit(ctx, storage.Spec{}, quota)
		if err != nil || r.Quota.Used != i {
			t.Fatalf("Limit %d = %+v, %v", i, r, err)
		}
	}

	srv.Kill()
	for range 5 {
		var err error
		if d := timed(func() { _, err = s.Limit(ctx, storage.Spec{}, quota) }); d > testTimeout+100*time.Millisecond {
			t.Errorf("Limit with Redis killed took %v, want within the timeout %v", d, testTimeout)
		}
		wantUnavailable(t, "Limit with Redis killed", err)
	}

	srv.Restart()
	waitWorks(t, s)
	r, err := s.Limit(ctx, storage.Spec{}, quota)
	if err != nil || !r.Allowed() || r.Quota.Used != 4 {
		t.Errorf("Limit after the restart = %+v, %v; want allowed with Used 4 (3 before the crash, none while down)", r, err)
	}
}

// TestPaused stops Redis with SIGSTOP: connections stay open and nothing answers. Calls must
// give up within the timeout, then fail at once once the probe has noticed, and work again soon
// after SIGCONT.
func TestPaused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := open(t, Options{Addrs: []string{srv.Addr}, Timeout: testTimeout, ProbeInterval: 100 * time.Millisecond})
	ctx := t.Context()
	if err := s.Set(ctx, "apikey-k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetCached(ctx, "apikey-k"); err != nil {
		t.Fatal(err)
	}

	srv.Pause()
	var err error
	if d := timed(func() { _, err = s.Get(ctx, "apikey-k") }); d > testTimeout+200*time.Millisecond {
		t.Errorf("Get from a paused Redis took %v, want within the timeout %v", d, testTimeout)
	}
	wantUnavailable(t, "Get from a paused Redis", err)
	// The probe notices within its interval plus a timeout.
	time.Sleep(100*time.Millisecond + testTimeout + 200*time.Millisecond)
	if d := timed(func() { _, _, err = s.GetCached(ctx, "apikey-k") }); d > 50*time.Millisecond {
		t.Errorf("GetCached once the probe failed took %v, want an immediate failure", d)
	}
	wantUnavailable(t, "GetCached of a cached key with Redis paused (a stale session must not be served)", err)
	if _, err := s.Probe(ctx); err == nil {
		t.Error("Probe with Redis paused reports no error")
	}

	srv.Resume()
	if d := waitWorks(t, s); d > recoverWithin {
		t.Errorf("recovered %v after SIGCONT", d)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	certs := redistest.NewTLS(t)
	srv := redistest.Start(t, redistest.Options{TLS: certs, TLSClientAuth: true})
	ctx := t.Context()

	good := clientTLS(t, certs.CA, certs.ClientCert, certs.ClientKey)
	s := open(t, Options{Addrs: []string{srv.Addr}, TLS: good, Timeout: testTimeout})
	if err := s.Set(ctx, "k", []byte("over TLS"), 0); err != nil {
		t.Fatalf("Set over TLS: %v", err)
	}
	if v, err := s.Get(ctx, "k"); err != nil || string(v) != "over TLS" {
		t.Fatalf("Get over TLS = %q, %v", v, err)
	}

	for _, c := range []struct {
		name, want string
		tls        *tls.Config
	}{
		{"a CA that did not sign the server's certificate", "certificate", clientTLS(t, certs.OtherCA, certs.ClientCert, certs.ClientKey)},
		{"no client certificate", "", clientTLS(t, certs.CA, "", "")},
		{"no TLS at all", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(Options{Addrs: []string{srv.Addr}, TLS: c.tls, Timeout: testTimeout})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if err := s.WaitConnected(wctx); err == nil {
				t.Fatal("connected, want the connection refused")
			}
			_, err = s.Get(ctx, "k")
			wantUnavailable(t, "Get", err)
			if _, err := s.Probe(ctx); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Probe = %v, want an error mentioning %q", err, c.want)
			}
		})
	}
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{Password: "right"})
	const wrong = "n0t-the-p4ssword"
	s, err := New(Options{Addrs: []string{srv.Addr}, Password: wrong, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := s.WaitConnected(ctx); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("WaitConnected with a wrong password = %v, want Redis's WRONGPASS", err)
	}
	if err := s.WaitConnected(ctx); err != nil && strings.Contains(err.Error(), wrong) {
		t.Errorf("the error repeats the password: %v", err)
	}
	good := open(t, Options{Addrs: []string{srv.Addr}, Password: "right"})
	if err := good.Set(t.Context(), "k", []byte("v"), 0); err != nil {
		t.Errorf("Set with the right password: %v", err)
	}
}

func clientTLS(t *testing.T, ca, cert, key string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c
}

// TestSentinelFailover kills the master a Sentinel watches: the Sentinel promotes the replica,
// and the store follows it, with the data the replica had, without being restarted.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t, redistest.Options{})
	replica := redistest.Start(t, redistest.Options{Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port)}})
	sentinel := redistest.StartSentinel(t, master, "failover-master", "")
	s := open(t, Options{Addrs: []string{sentinel.Addr}, MasterName: sentinel.MasterName, Timeout: testTimeout})
	ctx := t.Context()
	if err := s.Set(ctx, "apikey-before", []byte("kept"), 0); err != nil {
		t.Fatal(err)
	}
	// The replica must have the write before the master dies. WAIT alone is not enough: on a
	// loaded machine the replica may still be in its first sync when it times out, and the
	// promoted replica would then rightly not have the key.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		redistest.CLI(t, master.Addr, "wait", "1", "1000")
		if strings.TrimSpace(redistest.CLI(t, replica.Addr, "get", "apikey-before")) == "kept" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not get the write within 60s:\n%s", redistest.CLI(t, replica.Addr, "info", "replication"))
		}
	}

	master.Kill()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		v, err := s.Get(ctx, "apikey-before")
		werr := s.Set(ctx, "apikey-after", []byte("written"), 0)
		cancel()
		if err == nil && werr == nil {
			if string(v) != "kept" {
				t.Errorf("after the failover the key holds %q, want %q", v, "kept")
			}
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the store did not follow the failover within 30s: get %v, set %v\nsentinel log:\n%s", err, werr, sentinel.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("writes worked again %v after the master died", time.Since(start).Round(time.Millisecond))
	if role := redistest.CLI(t, replica.Addr, "role"); !strings.HasPrefix(role, "master") {
		t.Errorf("the replica's role after the failover: %q, want master", role)
	}
}

// TestWindowLengthsDoNotClash: two gateways that disagree on a key's window length (a policy
// rolled out to one before the other) must not start each other's window afresh: alternating
// between them would then let every request through.
func TestWindowLengthsDoNotClash(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := open(t, Options{Addrs: []string{srv.Addr}})
	ctx := t.Context()
	allowed := 0
	for i := range 20 {
		window := time.Minute
		if i%2 == 1 {
			window = time.Second
		}
		u, err := s.Hit(ctx, "rate-limit-{k}", 3, window)
		if err != nil {
			t.Fatal(err)
		}
		if u.Allowed {
			allowed++
		}
	}
	if allowed != 6 {
		t.Errorf("alternating two window lengths with a limit of 3: %d of 20 allowed, want 6 (3 in each window)", allowed)
	}
}

// TestCachedCopyRefusedWhenSilent: a copy in the client-side cache costs no round trip, so
// nothing would notice a hung Redis (or a cut network) while a key changed elsewhere could not
// be invalidated here. Once Redis has said nothing for the timeout, the copy is refused, before
// the probe has decided that Redis is down.
func TestCachedCopyRefusedWhenSilent(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	// A slow probe, so that it is not what refuses the copy.
	s := open(t, Options{Addrs: []string{srv.Addr}, Timeout: testTimeout, ProbeInterval: time.Hour})
	ctx := t.Context()
	if err := s.Set(ctx, "apikey-k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := s.GetCached(ctx, "apikey-k"); err != nil {
			t.Fatal(err)
		}
	}
	srv.Pause()
	paused := time.Now()
	// The probe runs at least every timeout/2, so the last answer is at most that old at the
	// pause: no call made later than the timeout after it may be served the copy. What is
	// checked is when each call began, so that a loaded machine, which may be slow to make
	// the calls, cannot fail the test (nor pass it: a copy served to a late call is reported).
	var refusedAfter, servedLast time.Duration
	for deadline := paused.Add(3 * testTimeout); refusedAfter == 0 || time.Now().Before(deadline); {
		began := time.Since(paused)
		_, _, err := s.GetCached(ctx, "apikey-k")
		if err != nil {
			wantUnavailable(t, "GetCached of a copy while Redis is silent", err)
			if refusedAfter == 0 {
				refusedAfter = began
			}
		} else if refusedAfter != 0 {
			t.Fatalf("the copy was served again to a call made %v after Redis went silent, having been refused", began)
		} else {
			servedLast = began
		}
		if time.Since(paused) > time.Minute {
			t.Fatalf("the cached copy is still served a minute after Redis went silent")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if servedLast > testTimeout+100*time.Millisecond {
		t.Errorf("the cached copy was served to a call made %v after Redis went silent, want none after the timeout %v", servedLast, testTimeout)
	}
	srv.Resume()
	waitWorks(t, s)
}

// TestCacheEpoch: the epoch changes once Redis answers after the client-side cache was lost with
// a connection, and not while Redis stays away, so a gateway knows which of its memories were
// kept coherent up to an outage.
func TestCacheEpoch(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	s := open(t, Options{Addrs: []string{srv.Addr}, Timeout: testTimeout})
	ctx := t.Context()
	start := s.CacheEpoch()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if e := s.CacheEpoch(); e != start {
		t.Fatalf("the epoch moved from %d to %d with nothing lost", start, e)
	}
	// Connections reset under the store: the next answer restores coherence, with a new epoch.
	redistest.CLI(t, srv.Addr, "client", "kill", "type", "normal")
	waitWorks(t, s)
	after := s.CacheEpoch()
	if after == start {
		t.Fatalf("the epoch is still %d after the connections were lost and made again", after)
	}
	// Redis gone: connections close, nothing answers, the epoch stays.
	srv.Kill()
	time.Sleep(2 * testTimeout)
	if e := s.CacheEpoch(); e != after {
		t.Errorf("the epoch moved from %d to %d while Redis was down", after, e)
	}
	srv.Restart()
	waitWorks(t, s)
	if e := s.CacheEpoch(); e == after {
		t.Errorf("the epoch is still %d after Redis came back", e)
	}
}

// TestBusyScript: while a Lua script runs past Redis's busy-reply threshold, Redis answers every
// other command with a BUSY error. That is Redis unable to serve for now, like a paused one, not
// a wrong command: calls fail as storage.ErrUnavailable (the gateway fails closed and retries)
// and work again once the script is killed. An error that is the command's own (WRONGTYPE) is
// not classified as unavailable: the comparison keeps the test able to fail.
func TestBusyScript(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := open(t, Options{Addrs: []string{srv.Addr}, Timeout: testTimeout, ProbeInterval: 100 * time.Millisecond})
	ctx := t.Context()
	if err := s.Set(ctx, "apikey-k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	redistest.CLI(t, srv.Addr, "rpush", "a-list", "x")
	_, err := s.Get(ctx, "a-list")
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("Get of a list: error %v, want Redis's WRONGTYPE", err)
	}
	if errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Get of a list: %v is classified as Redis being unavailable; it is the command's own error", err)
	}

	redistest.CLI(t, srv.Addr, "config", "set", "busy-reply-threshold", "50")
	script := srv.Script(t, "while true do end")
	var got error
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, got = s.Get(ctx, "apikey-k")
		if got != nil && strings.Contains(got.Error(), "BUSY") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got == nil || !strings.Contains(got.Error(), "BUSY") {
		t.Fatalf("Get while a script runs: error %v, want Redis's BUSY answer", got)
	}
	wantUnavailable(t, "Get while a script runs", got)
	err = s.Set(ctx, "apikey-other", []byte("v"), 0)
	wantUnavailable(t, "Set while a script runs", err)

	redistest.CLI(t, srv.Addr, "script", "kill")
	<-script
	if d := waitWorks(t, s); d > recoverWithin {
		t.Errorf("recovered %v after SCRIPT KILL", d)
	}
}

// TestLoading: a restarted Redis reading its dataset answers every command with a LOADING
// error until it is done. That is Redis unable to serve for now: calls fail as
// storage.ErrUnavailable, and work once the dataset is loaded. key-load-delay (a debugging
// setting, microseconds per key) makes the load last a few seconds.
func TestLoading(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := open(t, Options{Addrs: []string{srv.Addr}, Timeout: testTimeout, ProbeInterval: 100 * time.Millisecond})
	ctx := t.Context()
	if err := s.Set(ctx, "apikey-k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	const keys, delayUs = 5000, 500 // 2.5 s of loading
	sets := make([][]string, keys)
	for i := range sets {
		sets[i] = []string{"SET", fmt.Sprintf("filler-%d", i), "x"}
	}
	srv.Pipe(t, sets)
	redistest.CLI(t, srv.Addr, "save")
	srv.Kill()
	srv.RestartWith("Loading RDB produced by", "--key-load-delay", fmt.Sprint(delayUs), "--loading-process-events-interval-bytes", "1024")

	var got error
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, got = s.Get(ctx, "apikey-k")
		if got != nil && strings.Contains(got.Error(), "LOADING") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got == nil || !strings.Contains(got.Error(), "LOADING") {
		t.Fatalf("Get while Redis loads its dataset: error %v, want Redis's LOADING answer\n%s", got, srv.Log())
	}
	wantUnavailable(t, "Get while Redis loads", got)
	err := s.Set(ctx, "apikey-other", []byte("v"), 0)
	wantUnavailable(t, "Set while Redis loads", err)

	for !strings.Contains(srv.Log(), "Done loading RDB") {
		if time.Now().After(deadline) {
			t.Fatalf("Redis did not finish loading:\n%s", srv.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := waitWorks(t, s); d > recoverWithin {
		t.Errorf("recovered %v after the load", d)
	}
	if v, err := s.Get(ctx, "apikey-k"); err != nil || string(v) != "v" {
		t.Errorf("after the load: Get = %q, %v; want the value saved before the restart", v, err)
	}
}
