// Package uptime runs Tyk's uptime tests (an API's uptime_tests.check_list) and tells the load
// balancer which upstream hosts are down, so that an API with
// proxy.check_host_against_uptime_tests skips them.
//
// Every check runs once per interval (uptime_tests.config.time_wait). An HTTP check passes when
// its URL answers 200 (redirects followed, as Tyk's client does); a tcp or tls check when it
// connects and its commands (send a message, expect one back) succeed. A check that fails
// Threshold times in a row (failure_trigger_sample_size) marks its host down; the host is up
// again once every one of its checks has passed Threshold times in a row. A host is its URL's
// host and port, the port filled in from the scheme, so that a check of http://svc/health
// speaks for the target http://svc:80.
//
// Alone (Options.Claims nil), a gateway runs its own checks and keeps what they found in memory.
// In a fleet, the gateways sharing a store share the checks (see Options.Claims): each check is
// run by one gateway at a time, which writes what it found for the others to read.
package uptime

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// Check is one uptime test, ready to run.
type Check struct {
	// APIID is the API whose check_list holds the check (for logs), and OrgID its org (for the
	// HostDown and HostUp events).
	APIID, OrgID string
	// URL is the check's URL as written.
	URL string
	// RequestURL, when set, is where an HTTP check's request goes instead of URL (an h2c://
	// URL's http:// form, sent on an h2c transport).
	RequestURL string
	// Protocol is "" or "http"/"https" for an HTTP check, "tcp" or "tls" for a connection check.
	Protocol string
	// Method, Header and Body make an HTTP check's request (Method "" is GET).
	Method string
	Header http.Header
	Body   []byte
	// Commands are a connection check's steps.
	Commands []Command
	// Timeout bounds one run of the check; 0 is DefaultTimeout.
	Timeout time.Duration
	// Transport sends an HTTP check's request: the API's upstream transport, so that checks
	// trust what traffic trusts. Nil uses http.DefaultTransport.
	Transport http.RoundTripper
	// ExpireAnalyticsAfter is the API's uptime_tests.config.expire_utime_after, in seconds,
	// for the uptime analytics of its runs.
	ExpireAnalyticsAfter int64
}

// Command is a step of a connection check: "send" writes Message, "expect" reads as many bytes
// and fails unless they are Message.
type Command struct {
	Name, Message string
}

// Defaults: Tyk's, and for the pool its older default (today's Tyk takes the number of CPUs).
const (
	DefaultInterval  = 10 * time.Second
	DefaultThreshold = 3
	DefaultTimeout   = 500 * time.Millisecond
	DefaultPool      = 50
)

// maxDrain is how much of an HTTP check's answer is read so that its connection can be reused.
const maxDrain = 64 << 10

// Options configure a Checker.
type Options struct {
	// Interval is how often each check runs; 0 is DefaultInterval.
	Interval time.Duration
	// Threshold is how many failures in a row mark a host down, and passes in a row mark it up
	// again; 0 is DefaultThreshold.
	Threshold int
	// Pool bounds the checks running at once; 0 is DefaultPool.
	Pool   int
	Logger *slog.Logger
	// OnChange, when set, is told the number of hosts down each time it may have changed.
	OnChange func(down int)
	// OnHost, when set, is told when a host goes down (true) or comes back up (false) by what
	// the checks found (not when a reload drops its checks): the checks this gateway ran, and,
	// sharing, those whose runner's state it read. at is when the runner found the change (Unix
	// ms): the same on every gateway that is told, so that they can tell one change from
	// another. It must not block.
	OnHost func(host string, down bool, at int64)
	// Claims, when set, shares the checks with the other gateways of a fleet, in Space (a
	// poller group): at each round this gateway claims every check it has, runs those it
	// holds and writes what they found, and reads what the holders of the others wrote. A
	// check whose holder stops (or stops renewing, for three intervals) is taken over, from
	// the state last written. While the claims fail (the store does not answer, or refuses
	// them), this gateway runs every check itself.
	Claims storage.Claims
	Space  string
	// Holder names this gateway in the claims ("": a random name).
	Holder string
	// OnRun, when set, is told what each run of a check found (runs by this gateway only, and
	// only those that count), from the goroutine that ran it (uptime analytics).
	OnRun func(Check, Result)
}

// Shared is what Stats reports of a checker sharing its checks with a fleet.
type Shared struct {
	// Checks are the checks this gateway has; Here those it runs.
	Checks, Here int
	// Alone is true while the claims fail (the store does not answer, or refuses them): this
	// gateway runs every check itself.
	Alone bool
	// Gateways is how many gateways of the poller group share the checks (this one included),
	// as counted at the last round; 0 before the first.
	Gateways int
}

// Checker runs the checks and answers Down.
type Checker struct {
	interval  time.Duration
	threshold int
	sem       chan struct{}
	log       *slog.Logger
	onChange  func(down int)
	onHost    func(host string, down bool, at int64)
	onRun     func(Check, Result)
	// claims, space and holder share the checks (nil claims: alone); holder is this
	// checker's name in the claims.
	claims storage.Claims
	space  string
	holder string

	mu     sync.Mutex
	checks map[string]*state // by check URL
	// down holds the hosts down, replaced whole when it changes, so that Down reads it
	// without a lock.
	down atomic.Pointer[map[string]bool]
	// released are the checks this gateway held that a reload dropped, to give up at the
	// next round; alone is true while the claims fail.
	released []string
	alone    bool
	// members are the gateways the poller group counted at the last round, sorted (none while
	// alone, or without checks: not counted then), and counted whether this gateway is among
	// them.
	members []string
	counted bool
	// now is the clock (time.Now; tests set it).
	now func() time.Time

	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
	started atomic.Bool
	// ctx ends with Close, ending the checks in flight, which inflight counts.
	ctx      context.Context
	cancel   context.CancelFunc
	inflight sync.WaitGroup
}

// state is a check and what its last runs found.
type state struct {
	check Check
	host  string
	// sid names the check in the claims; mine is true when this gateway runs it (always,
	// alone).
	sid  string
	mine bool
	// written is the state last written for the others, at writtenAt.
	written   []byte
	writtenAt time.Time
	running   bool
	ran       bool // has run at least once
	fails     int  // failures in a row
	passes    int  // passes in a row since it went down
	isDown    bool
	// flipAt is when the check's runner found it go down or up (Unix ms; 0: never).
	flipAt int64
	// known: this gateway has run the check or read its runner's state since it got it, so a
	// change read now is a change (the first state read is how things stand, not news).
	known bool
	// freeSince is when this gateway first found the check held by no gateway, in a run of
	// rounds finding it so (zero: held at its last round). kept: this gateway took it though it
	// belongs to another, which had left it free for a round and a half (it may not have the
	// check), so it keeps it rather than hand it back, until the gateways counted change.
	freeSince time.Time
	kept      bool
}

// New returns a Checker; Start runs it.
func New(o Options) *Checker {
	c := &Checker{interval: o.Interval, threshold: o.Threshold, log: o.Logger, onChange: o.OnChange, onHost: o.OnHost, onRun: o.OnRun, now: time.Now,
		checks: map[string]*state{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	if o.Claims != nil {
		c.claims, c.space, c.holder = o.Claims, o.Space, o.Holder
		if c.holder == "" {
			c.holder = rand.Text()
		}
	}
	if c.interval <= 0 {
		c.interval = DefaultInterval
	}
	if c.threshold <= 0 {
		c.threshold = DefaultThreshold
	}
	pool := o.Pool
	if pool <= 0 {
		pool = DefaultPool
	}
	c.sem = make(chan struct{}, pool)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	empty := map[string]bool{}
	c.down.Store(&empty)
	return c
}

// Start runs the checks every interval until Close; the first round runs at once. Starting
// again, or after Close, does nothing.
func (c *Checker) Start() {
	select {
	case <-c.stop:
		return
	default:
	}
	if c.started.CompareAndSwap(false, true) {
		go c.loop()
	}
}

// Close stops the checks: it ends those in flight and waits for them and for the loop.
func (c *Checker) Close() {
	c.once.Do(func() {
		close(c.stop)
		c.cancel()
	})
	if c.started.Load() {
		<-c.stopped
	}
	c.inflight.Wait()
	c.unclaimAll()
}

// Set replaces the checks (at each reload). A check kept (the same URL, protocol, request and
// commands) keeps what its runs found, so a reload neither forgets a host that is down nor
// marks one down anew; the checks no longer listed are dropped, and a host none of the others
// find down is no longer down. New checks run at once; the others keep their interval.
func (c *Checker) Set(checks []Check) {
	c.mu.Lock()
	next := make(map[string]*state, len(checks))
	added := false
	for _, ch := range checks {
		id := ch.identity()
		if _, dup := next[id]; dup {
			continue // two APIs with the same check: one run serves both
		}
		host, err := HostOf(ch.URL, ch.Protocol)
		if err != nil {
			c.log.Warn("uptime check not run", "api_id", ch.APIID, "url", ch.URL, "error", err)
			continue
		}
		if old, ok := c.checks[id]; ok {
			old.check = ch // the same check; the API's transport may be a new one
			next[id] = old
			continue
		}
		sum := sha256.Sum256([]byte(id))
		next[id] = &state{check: ch, host: host, sid: hex.EncodeToString(sum[:16]), mine: c.claims == nil}
		added = true
	}
	for id, s := range c.checks {
		// Held or not: a claim call under way may be taking it (Unclaim leaves the others').
		if _, kept := next[id]; !kept && c.claims != nil {
			c.released = append(c.released, s.sid)
		}
	}
	c.checks = next
	c.publishLocked()
	c.mu.Unlock()
	if added {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// Down reports whether host (HostOf a target) is down. It takes no lock.
func (c *Checker) Down(host string) bool {
	return (*c.down.Load())[host]
}

// DownHosts returns the hosts down, for reports.
func (c *Checker) DownHosts() []string {
	m := *c.down.Load()
	out := make([]string, 0, len(m))
	for h := range m {
		out = append(out, h)
	}
	return out
}

func (c *Checker) loop() {
	defer close(c.stopped)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	c.round(false)
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.round(false)
		case <-c.wake:
			c.round(true)
		}
	}
}

// round starts every check not still running from the last round (with onlyNew, those that
// never ran: a reload added them), at most Pool at once.
func (c *Checker) round(onlyNew bool) {
	if c.claims != nil {
		c.sync()
	}
	c.mu.Lock()
	var todo []*state
	for _, s := range c.checks {
		if s.mine && !s.running && !(onlyNew && s.ran) {
			s.running, s.ran = true, true
			todo = append(todo, s)
		}
	}
	c.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	// The checks wait for the pool on a goroutine of their own, never the loop's: a round of
	// checks that hang must not hold back the next rounds, which renew this gateway's claims.
	c.inflight.Add(1)
	go func() {
		defer c.inflight.Done()
		c.dispatch(todo)
	}()
}

// dispatch runs the checks of a round, at most Pool at once.
func (c *Checker) dispatch(todo []*state) {
	done := func(s *state) {
		c.mu.Lock()
		s.running = false
		c.mu.Unlock()
	}
	for i, s := range todo {
		select {
		case c.sem <- struct{}{}:
		case <-c.stop:
			for _, s := range todo[i:] {
				done(s)
			}
			return
		}
		c.mu.Lock()
		ch, mine := s.check, s.mine
		c.mu.Unlock()
		if !mine {
			// Another gateway took it over while it waited for the pool.
			<-c.sem
			done(s)
			continue
		}
		c.inflight.Add(1)
		go func() {
			defer c.inflight.Done()
			defer done(s)
			res := RunResult(c.ctx, ch)
			<-c.sem
			found, current := c.report(s, res.Err)
			if found != nil {
				c.put(s, found)
			}
			if current && c.onRun != nil {
				c.onRun(ch, res)
			}
		}()
	}
}

// report records a run's outcome and publishes the hosts down when a host changed. Sharing, it
// returns the state to write for the other gateways (nil when there is nothing new to write);
// current is false when the run no longer counts (the check dropped or taken over, the checker
// closed). The check stays running until its caller is done with the outcome.
func (c *Checker) report(s *state, err error) (found []byte, current bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checks[s.check.identity()] != s || c.ctx.Err() != nil || !s.mine {
		return nil, false // dropped by a reload meanwhile, closed, or taken over by another gateway
	}
	s.known = true

	switch {
	case err != nil:
		s.passes = 0
		s.fails++
		c.log.Debug("uptime check failed", "api_id", s.check.APIID, "url", s.check.URL, "error", err)
		if !s.isDown && s.fails >= c.threshold {
			s.isDown, s.flipAt = true, time.Now().UnixMilli()
			c.log.Warn("upstream host down: uptime checks failing", "host", s.host, "url", s.check.URL, "api_id", s.check.APIID, "error", err)
			c.publishHostLocked(s.host)
		}
	default:
		s.fails = 0
		if s.isDown {
			s.passes++
			if s.passes >= c.threshold {
				s.isDown, s.passes, s.flipAt = false, 0, time.Now().UnixMilli()
				c.log.Warn("upstream host up: uptime checks pass again", "host", s.host, "url", s.check.URL, "api_id", s.check.APIID)
				c.publishHostLocked(s.host)
			}
		}
	}
	if c.claims != nil {
		// Written when it changed, and often enough that it does not expire.
		now := time.Now()
		if enc := s.encode(); !bytes.Equal(enc, s.written) || now.Sub(s.writtenAt) >= c.stateTTL()/3 {
			s.written, s.writtenAt = enc, now
			return enc, true
		}
	}
	return nil, true
}

// publishHostLocked publishes the hosts down after a check of host changed, and tells OnHost
// when host itself went down or up.
func (c *Checker) publishHostLocked(host string) {
	was := (*c.down.Load())[host]
	c.publishLocked()
	if is := (*c.down.Load())[host]; is != was && c.onHost != nil {
		c.onHost(host, is, c.flipAtLocked(host))
	}
}

// flipAtLocked is when host last changed by what its checks' runners found: the latest change
// of one of its checks.
func (c *Checker) flipAtLocked(host string) int64 {
	var at int64
	for _, s := range c.checks {
		if s.host == host {
			at = max(at, s.flipAt)
		}
	}
	return at
}

// publishLocked stores the hosts down: a host with any check down.
func (c *Checker) publishLocked() {
	m := map[string]bool{}
	for _, s := range c.checks {
		if s.isDown {
			m[s.host] = true
		}
	}
	c.down.Store(&m)
	if c.onChange != nil {
		c.onChange(len(m))
	}
}

// identity tells checks apart: two APIs listing the same check share its runs, while different
// requests to one URL are different checks.
func (ch *Check) identity() string {
	var b strings.Builder
	for _, part := range []string{ch.URL, strings.ToLower(ch.Protocol), strings.ToUpper(ch.Method), string(ch.Body)} {
		b.WriteString(strconv.Itoa(len(part)))
		b.WriteByte(':')
		b.WriteString(part)
	}
	for _, k := range slices.Sorted(maps.Keys(ch.Header)) {
		for _, v := range ch.Header[k] {
			fmt.Fprintf(&b, "%d:%s%d:%s", len(k), k, len(v), v)
		}
	}
	for _, cmd := range ch.Commands {
		fmt.Fprintf(&b, "%d:%s%d:%s", len(cmd.Name), cmd.Name, len(cmd.Message), cmd.Message)
	}
	return b.String()
}

// Result is what a run of a check found.
type Result struct {
	// Err is nil when the check passed.
	Err error
	// Status is the HTTP status answered (200 for a tcp or tls check that passed); 0 when
	// nothing was answered (a connection that failed or timed out, commands that failed).
	Status int
	// Took is how long the run took.
	Took time.Duration
}

// Run runs a check once: nil when it passes.
func Run(ctx context.Context, ch Check) error {
	_, err := run(ctx, ch)
	return err
}

// RunResult runs a check once and says what it found.
func RunResult(ctx context.Context, ch Check) Result {
	start := time.Now()
	status, err := run(ctx, ch)
	return Result{Err: err, Status: status, Took: time.Since(start)}
}

func run(ctx context.Context, ch Check) (int, error) {
	timeout := ch.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch strings.ToLower(ch.Protocol) {
	case "tcp", "tls":
		if err := runConn(ctx, ch); err != nil {
			return 0, err
		}
		return http.StatusOK, nil
	}
	method := ch.Method
	if method == "" {
		method = http.MethodGet
	}
	target := ch.URL
	if ch.RequestURL != "" {
		target = ch.RequestURL
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(ch.Body))
	if err != nil {
		return 0, err
	}
	for k, vs := range ch.Header {
		req.Header[k] = vs
	}
	tr := ch.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, fmt.Errorf("answered %d, want 200", res.StatusCode)
	}
	return res.StatusCode, nil
}

// runConn runs a tcp or tls check: connect, then each command in turn.
func runConn(ctx context.Context, ch Check) error {
	addr, err := connAddr(ch.URL, ch.Protocol)
	if err != nil {
		return err
	}
	var d net.Dialer
	var conn net.Conn
	if strings.EqualFold(ch.Protocol, "tls") {
		host, _, _ := net.SplitHostPort(addr)
		conn, err = (&tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: host}}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	for _, cmd := range ch.Commands {
		switch cmd.Name {
		case "send":
			if _, err := io.WriteString(conn, cmd.Message); err != nil {
				return fmt.Errorf("sending %q: %w", cmd.Message, err)
			}
		case "expect":
			buf := make([]byte, len(cmd.Message))
			if _, err := io.ReadFull(conn, buf); err != nil {
				return fmt.Errorf("expecting %q: %w", cmd.Message, err)
			}
			if string(buf) != cmd.Message {
				return fmt.Errorf("expected %q, got %q", cmd.Message, buf)
			}
		default:
			return fmt.Errorf("unknown command %q", cmd.Name)
		}
	}
	return nil
}

// connAddr is the host:port a connection check dials: its URL with or without a scheme.
func connAddr(raw, protocol string) (string, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = strings.ToLower(protocol) + "://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Port() == "" {
		return "", fmt.Errorf("%q names no port", raw)
	}
	return u.Host, nil
}

// HostOf returns the host a check or a target speaks for: its lower-cased host name and port,
// the port filled in from the scheme (80 for http and h2c, 443 for https). A check with the tcp
// or tls protocol may be written without a scheme ("db:5432").
func HostOf(raw, protocol string) (string, error) {
	s := raw
	if p := strings.ToLower(protocol); (p == "tcp" || p == "tls") && !strings.Contains(s, "://") {
		s = p + "://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", errors.New("the URL names no host")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http", "h2c", "ws":
			port = "80"
		case "https", "wss":
			port = "443"
		default:
			return "", fmt.Errorf("%q names no port", raw)
		}
	}
	return net.JoinHostPort(host, port), nil
}

// Sharing the checks with a fleet (Options.Claims).

// claimTTL is how long a claim lasts unless renewed: three rounds, so that a gateway that
// stops is replaced within three intervals, and one late by a round keeps its checks.
func (c *Checker) claimTTL() time.Duration { return 3 * c.interval }

// stateTTL is how long what a check's holder wrote is kept: long enough for a gateway that
// takes the check over to go on from it, short enough that a check nobody runs any more is
// forgotten.
func (c *Checker) stateTTL() time.Duration { return max(10*c.interval, time.Minute) }

// sync gives up the checks a reload dropped, renews the claims this gateway holds, takes the
// free checks that are its own (see preferred) and hands back those that are another's, and
// reads what the holders of the others found; while the store does not answer, this gateway runs
// every check itself.
func (c *Checker) sync() {
	c.mu.Lock()
	all := make([]*state, 0, len(c.checks))
	ids := make([]string, 0, len(c.checks))
	for _, s := range c.checks {
		all = append(all, s)
		ids = append(ids, s.sid)
	}
	release := c.released
	c.released = nil
	c.mu.Unlock()
	if len(release) > 0 {
		if err := c.claims.Unclaim(c.ctx, c.space, c.holder, release); err != nil {
			c.log.Debug("uptime checks: giving up dropped checks", "error", err)
		}
	}
	held, found, err := c.balance(all, ids)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if c.ctx.Err() != nil {
			return
		}
		if !c.alone {
			c.alone = true
			if errors.Is(err, storage.ErrUnavailable) {
				c.log.Warn("uptime checks: Redis does not answer, so this gateway runs every check itself until it does", "error", err)
			} else {
				c.log.Error("uptime checks: Redis refused the claims that share the checks (its ACL must allow EVAL, EVALSHA, ZREM and the commands the scripts run on the gatehouse-claim* and gatehouse-members* keys), so this gateway runs every check itself", "error", err)
			}
		}
		for _, s := range all {
			s.mine = true
		}
		c.members = nil
		return
	}
	if c.alone {
		c.alone = false
		c.log.Info("uptime checks: shared with the fleet again")
	}
	changed := false
	before := *c.down.Load()
	// Hosts first seen now: their state is how things stand, told to nobody.
	var firstSeen map[string]bool
	for i, s := range all {
		if c.checks[s.check.identity()] != s {
			// Dropped by a reload meanwhile: the claim just taken goes at the next round.
			if held[i] {
				c.released = append(c.released, s.sid)
			}
			continue
		}
		was := s.mine
		s.mine = held[i]
		if s.mine && was {
			continue // this gateway's own runs are what it knows best
		}
		if s.mine {
			s.written = nil // taken over: written at its first run here
		}
		// Another gateway runs it, or ran it until now: go on from what it wrote.
		st, ok := decodeState(found[i])
		if !ok {
			continue
		}
		if !s.known && st.isDown != s.isDown {
			if firstSeen == nil {
				firstSeen = map[string]bool{}
			}
			firstSeen[s.host] = true
		}
		s.known = true
		if st.fails != s.fails || st.passes != s.passes || st.isDown != s.isDown || st.flipAt != s.flipAt {
			s.fails, s.passes, s.flipAt = st.fails, st.passes, st.flipAt
			changed = changed || st.isDown != s.isDown
			s.isDown = st.isDown
		}
	}
	if !changed {
		return
	}
	c.publishLocked()
	if c.onHost == nil {
		return
	}
	// The hosts that went down or up by what their runners found.
	after := *c.down.Load()
	for h := range before {
		if !after[h] && !firstSeen[h] {
			c.onHost(h, false, c.flipAtLocked(h))
		}
	}
	for h := range after {
		if !before[h] && !firstSeen[h] {
			c.onHost(h, true, c.flipAtLocked(h))
		}
	}
}

// balance spreads the checks over the gateways of the poller group: each check is its
// preferred gateway's among those counted now (Members). It renews the claims this gateway
// holds; takes the free checks it is preferred for, and those free at its last round too (their
// preferred gateway did not take them: it may not have the check, in a segmented fleet); and
// hands back those another gateway is preferred for, unless it took them that way. It returns,
// per check, whether this gateway holds it now and the state its holder last wrote.
func (c *Checker) balance(all []*state, ids []string) (held []bool, found [][]byte, err error) {
	ttl := c.claimTTL()
	if len(ids) == 0 {
		// No check: not counted, so that no check is thought to belong here.
		if c.counted {
			if err := c.claims.Leave(c.ctx, c.space, c.holder); err != nil {
				return nil, nil, err
			}
		}
		c.mu.Lock()
		c.counted, c.members = false, nil
		c.mu.Unlock()
		return nil, nil, nil
	}
	members, err := c.claims.Members(c.ctx, c.space, c.holder, ttl)
	if err != nil {
		return nil, nil, err
	}
	held, free, found, err := c.claims.Renew(c.ctx, c.space, c.holder, ids, ttl)
	if err != nil {
		return nil, nil, err
	}
	now := c.now()
	c.mu.Lock()
	c.counted = true
	if !slices.Equal(members, c.members) {
		// Another gateway came or went: a check kept here may now belong to one that has it.
		c.members = members
		for _, s := range all {
			s.kept = false
		}
	}
	var take, give []int
	for i, s := range all {
		own := preferred(s.sid, members, c.holder) == c.holder
		if !free[i] {
			s.freeSince = time.Time{}
		} else if s.freeSince.IsZero() {
			s.freeSince = now
		}
		switch {
		case held[i] && !own && !s.kept:
			give = append(give, i)
		case free[i] && (own || now.Sub(s.freeSince) >= c.interval*3/2):
			take = append(take, i)
		}
	}
	c.mu.Unlock()
	if len(take) > 0 {
		tids := make([]string, len(take))
		for j, i := range take {
			tids[j] = ids[i]
		}
		got, states, err := c.claims.Claim(c.ctx, c.space, c.holder, tids, ttl)
		if err != nil {
			return nil, nil, err
		}
		c.mu.Lock()
		for j, i := range take {
			if got[j] {
				held[i], found[i] = true, states[j]
				all[i].kept = preferred(all[i].sid, members, c.holder) != c.holder
				all[i].freeSince = time.Time{}
			}
		}
		c.mu.Unlock()
	}
	if len(give) > 0 {
		gids := make([]string, len(give))
		for j, i := range give {
			gids[j] = ids[i]
		}
		if err := c.claims.Unclaim(c.ctx, c.space, c.holder, gids); err != nil {
			c.log.Debug("uptime checks: handing checks back", "error", err)
		} else {
			for _, i := range give {
				held[i] = false
			}
		}
	}
	return held, found, nil
}

// preferred returns the gateway among members (holder too, whether counted yet or not) a check
// belongs to: the one whose name hashed with the check's scores highest (rendezvous hashing).
// Every gateway computes the same answer from the same members, and when a gateway joins or
// leaves only the checks it gains or held move.
func preferred(sid string, members []string, holder string) string {
	best, bestScore := holder, score(sid, holder)
	for _, m := range members {
		if sc := score(sid, m); sc > bestScore || sc == bestScore && m < best {
			best, bestScore = m, sc
		}
	}
	return best
}

// score is the rendezvous weight of a check (sid) for a gateway (name): FNV-1a of both, mixed
// by MurmurHash3's finaliser: FNV-1a alone gives some random names a small share of the checks.
func score(sid, name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(sid))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

// put writes what a run of a check this gateway holds found.
func (c *Checker) put(s *state, found []byte) {
	ok, err := c.claims.PutClaimed(c.ctx, c.space, c.holder, s.sid, found, c.stateTTL())
	if err != nil || !ok {
		// Written again after the next run. The next round claims again, or runs every check
		// here while Redis does not answer.
		c.mu.Lock()
		s.written = nil
		c.mu.Unlock()
		c.log.Debug("uptime checks: what a check found was not shared", "held", ok, "error", err)
	}
}

// unclaimAll gives up, when the checker closes, the checks this gateway holds, so that another
// gateway takes them over at its next round. Every check is named, held or not: a claim taken
// by a call whose answer was cut off is this gateway's too (Unclaim leaves the others' alone).
func (c *Checker) unclaimAll() {
	if c.claims == nil {
		return
	}
	c.mu.Lock()
	var ids []string
	for _, s := range c.checks {
		ids = append(ids, s.sid)
	}
	ids = append(ids, c.released...)
	c.released = nil
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Left first: the others, at their next round, find themselves preferred for the checks
	// given up here.
	if err := c.claims.Leave(ctx, c.space, c.holder); err != nil {
		c.log.Warn("uptime checks: could not leave the poller group at close; the other gateways take this one's checks over within three rounds", "error", err)
	}
	if len(ids) == 0 {
		return
	}
	if err := c.claims.Unclaim(ctx, c.space, c.holder, ids); err != nil {
		c.log.Debug("uptime checks: giving up checks at close", "error", err)
	}
}

// Stats reports how the checks are shared; ok is false when the checker runs alone.
func (c *Checker) Stats() (sh Shared, ok bool) {
	if c.claims == nil {
		return Shared{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sh.Checks, sh.Alone, sh.Gateways = len(c.checks), c.alone, len(c.members)
	for _, s := range c.checks {
		if s.mine {
			sh.Here++
		}
	}
	return sh, true
}

// sharedState is what a check's holder writes: failures and passes in a row, whether the
// check finds its host down, and since when (Unix ms).
type sharedState struct {
	fails, passes int
	isDown        bool
	flipAt        int64
}

// maxCount bounds the counts read from the store.
const maxCount = 1 << 20

// encode writes the state as "fails passes down flipAt" (down 1 or 0).
func (s *state) encode() []byte {
	down := 0
	if s.isDown {
		down = 1
	}
	return fmt.Appendf(nil, "%d %d %d %d", min(s.fails, maxCount), min(s.passes, maxCount), down, max(s.flipAt, 0))
}

// decodeState reads what encode wrote; anything else (nothing written yet, a value not
// Gatehouse's) is not a state.
func decodeState(b []byte) (sharedState, bool) {
	// Fields beyond those known are left for a later version's readers.
	f := strings.Fields(string(b))
	if len(f) < 3 || len(f) > 16 {
		return sharedState{}, false
	}
	var n [3]int
	for i, v := range f[:3] {
		x, err := strconv.Atoi(v)
		if err != nil || x < 0 || x > maxCount {
			return sharedState{}, false
		}
		n[i] = x
	}
	if n[2] > 1 {
		return sharedState{}, false
	}
	st := sharedState{fails: n[0], passes: n[1], isDown: n[2] == 1}
	if len(f) >= 4 {
		at, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil || at < 0 {
			return sharedState{}, false
		}
		st.flipAt = at
	}
	return st, true
}
