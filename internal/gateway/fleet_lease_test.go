package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// TestFleetLeasedQuota drives a quota large enough for the nodes to lease (see
// internal/storage/redis/lease.go) to its end over three nodes: never more passes than the
// quota, at most a lease per node is stranded, and a reset through one node's Gateway API
// ends the others' leases, so what they serve afterwards is counted in the new window.
func TestFleetLeasedQuota(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	nodes := fleetOf(t, srv.Addr, 3, gt.Keyed(gt.API("lq", "/lq/", up.URL)))
	const quota = 2000
	key := nodes[0].CreateKey(&apidef.SessionState{Rate: 1e6, Per: 1, QuotaMax: quota, QuotaRenewalRate: 3600, AccessRights: access("lq")})

	// Four clients per node, each until its first refusal.
	var passed atomic.Int64
	var wg sync.WaitGroup
	for _, g := range nodes {
		for range 4 {
			wg.Go(func() {
				for {
					code := status(g, "/lq/x", key)
					if code != http.StatusOK {
						if code != http.StatusForbidden {
							t.Errorf("status %d, want 200 or 403", code)
						}
						return
					}
					passed.Add(1)
				}
			})
		}
	}
	wg.Wait()
	got := passed.Load()
	// A lease holds at most 1 % of the quota; each node strands at most the one it held.
	if lo := int64(quota - 3*quota/100); got > quota || got < lo {
		t.Errorf("%d requests passed a quota of %d over three nodes, want between %d and %d", got, quota, lo, quota)
	}
	if n := int64(len(up.Requests())); n != got {
		t.Errorf("the upstream received %d requests, %d passed", n, got)
	}

	// Reset through node 0 (a key update resets its quota): the others serve again, within
	// 100 ms, and what they serve is counted.
	body := fmt.Sprintf(`{"rate": 1000000, "per": 1, "quota_max": %d, "quota_renewal_rate": 3600, "access_rights": {"lq": {"api_id": "lq"}}}`, quota)
	gt.Check(t, gt.Case{Code: 200}, nodes[0].Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + key, Body: body}))
	for i, g := range nodes[1:] {
		if d := within(t, time.Second, fmt.Sprintf("node %d after the quota was reset on node 0", i+1), wantStatus(g, "/lq/x", key, http.StatusOK)); d > 100*time.Millisecond {
			t.Errorf("node %d served the reset quota after %v, want within 100ms", i+1, d)
		}
	}
	const after = 400
	for i := range after {
		if code := status(nodes[1+i%2], "/lq/x", key); code != http.StatusOK {
			t.Fatalf("request %d after the reset: %d, want 200", i, code)
		}
	}
	r := nodes[0].Do(gt.Case{Admin: true, Path: "/tyk/keys/" + key})
	var s apidef.SessionState
	if err := json.Unmarshal([]byte(r.Body), &s); err != nil {
		t.Fatal(err)
	}
	// At least what was served since the reset is counted (leases count ahead of serving).
	if s.QuotaRemaining > quota-after {
		t.Errorf("after %d requests in the new window the key reports quota_remaining %d, want at most %d", after, s.QuotaRemaining, quota-after)
	}
}

// TestFleetLeasedRateLimit hammers three nodes with a rate limit large enough to lease: the fleet
// gets the limit per window within 5 %, as with the small limit of TestFleetRateLimitIsGlobal.
func TestFleetLeasedRateLimit(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	nodes := fleetOf(t, srv.Addr, 3, gt.Keyed(gt.API("lr", "/lr/", up.URL)))
	// 300 per 3 seconds: leases of up to 3 hits, at a load (100 a second) the in-process
	// gateways keep up well above under the race detector on a busy machine.
	const rate, per, windows = 300, 3, 2
	key := nodes[0].CreateKey(&apidef.SessionState{Rate: rate, Per: per, AccessRights: access("lr")})
	var allowed, refused atomic.Int64
	stop := time.Now().Add(windows * per * time.Second)
	var wg sync.WaitGroup
	for _, g := range nodes {
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					switch code := status(g, "/lr/x", key); code {
					case http.StatusOK:
						allowed.Add(1)
					case http.StatusTooManyRequests:
						refused.Add(1)
					default:
						t.Errorf("status %d, want 200 or 429", code)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if refused.Load() == 0 {
		t.Fatalf("no request was refused in %d windows: the clients did not reach the limit of %d per %ds (%d allowed)", windows, rate, per, allowed.Load())
	}
	want := float64(rate * windows)
	if got := float64(allowed.Load()); got < 0.95*want || got > 1.05*want {
		t.Errorf("hammering three nodes for %d windows with a limit of %d per %ds: %v allowed, want %v within 5%%", windows, rate, per, got, want)
	}
	t.Logf("%d allowed, %d refused", allowed.Load(), refused.Load())
}
