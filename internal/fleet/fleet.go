// Package fleet is what gateways sharing a store tell each other: group reloads, changed API
// definitions and policies, changed keys. Notifications travel on Tyk's channel,
// tyk.cluster.notifications, with Tyk's command names, and are signed with HMAC-SHA256 under the
// shared node secret: a client of Redis that does not know the secret cannot make nodes reload
// or drop cached keys, and a notification seen once (or older than MaxAge) is not acted on
// again, so recorded ones cannot be replayed.
//
// A node that was cut off from the store may have missed notifications; each time its
// subscription is made again, it resynchronises (Options.OnResync: a full reload).
package fleet

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// Channel is the pub/sub channel notifications travel on, Tyk's.
const Channel = "tyk.cluster.notifications"

// Commands, with Tyk's names.
const (
	GroupReload   = "GroupReload"
	APIAdded      = "ApiAdded"
	APIUpdated    = "ApiUpdated"
	APIRemoved    = "ApiRemoved"
	PolicyChanged = "PolicyChanged"
	// KeySpaceUpdate carries the hashes of changed or deleted keys, comma-separated (never a
	// raw key).
	KeySpaceUpdate = "KeySpaceUpdateNotification"
	// DeleteAPICache carries the api_id whose cached responses every node drops.
	DeleteAPICache = "DeleteAPICache"
	// FlushJWKS carries the api_id whose JWKS every node drops, or "*" for every JWKS (a
	// Gatehouse command: Tyk's flush is per gateway).
	FlushJWKS = "GatehouseFlushJWKS"
)

// Algorithm names how notifications are signed.
const Algorithm = "hmac-sha256"

// MaxAge is how far a notification's time may be from the receiver's clock: older ones are
// refused as replays, and nodes' clocks must agree within it (NTP keeps them far closer).
const MaxAge = 30 * time.Second

// Notification is one message on the channel. Command and Payload are Tyk's fields; Node and
// Time identify the sending and make every notification's signature unique.
type Notification struct {
	Command   string `json:"command"`
	Payload   string `json:"payload,omitempty"`
	Node      string `json:"node"`
	Time      int64  `json:"time"` // Unix milliseconds
	Algorithm string `json:"algorithm"`
	Signature string `json:"signature"`
}

// signingKey derives the key notifications are signed with from the configured secret, kept
// apart from whatever else the secret may serve (the Gateway API's, when node_secret is empty).
func signingKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("gatehouse fleet notifications v1"))
	return m.Sum(nil)
}

// sign returns the notification's signature under key.
func (n *Notification) sign(key []byte) string {
	m := hmac.New(sha256.New, key)
	// Length-prefixed, so that no two field lists give the same bytes.
	for _, f := range []string{n.Command, n.Payload, n.Node, fmt.Sprint(n.Time)} {
		fmt.Fprintf(m, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Options configure a Node.
type Options struct {
	Bus storage.Bus
	// Secret signs and checks notifications; every node must have the same.
	Secret string
	Logger *slog.Logger
	// OnReload is called for a group reload or a changed definition or policy.
	OnReload func(command string)
	// OnKeys is called with the hashes of keys another node changed.
	OnKeys func(hashes []string)
	// OnCacheFlush is called with the api_id whose cached responses another node flushed.
	OnCacheFlush func(apiID string)
	// OnJWKSFlush is called with the api_id whose JWKS another node flushed, or "*".
	OnJWKSFlush func(apiID string)
	// OnResync is called when the subscription is made again after it was lost: notifications
	// may have been missed. It is not called for the first subscription.
	OnResync func()
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Node sends and receives the notifications of one gateway.
type Node struct {
	o   Options
	id  string
	key []byte // signingKey(o.Secret)

	ready chan struct{} // closed at the first subscription

	mu        sync.Mutex
	seen      map[string]time.Time // signatures acted on, until they are too old to replay
	lastSweep time.Time            // of seen
	subs      int                  // subscriptions made so far
	rejected  int                  // notifications refused
	lastWarn  time.Time
	peers     map[string]Peer // other nodes heard from, at most maxPeers
}

// Peer is another node this one heard a valid notification from.
type Peer struct {
	Node        string
	LastSeen    time.Time
	LastCommand string
}

// maxPeers bounds the nodes remembered: when full, the one heard from longest ago is forgotten.
const maxPeers = 256

// New returns a node with a random id. It fails without a secret.
func New(o Options) (*Node, error) {
	if o.Secret == "" {
		return nil, errors.New("fleet: no secret to sign notifications with")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Node{o: o, id: rand.Text()[:16], key: signingKey(o.Secret), seen: map[string]time.Time{}, ready: make(chan struct{})}, nil
}

// Ready is closed once the node has subscribed: from then on it hears every notification.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// ID returns the node's id, which its notifications carry.
func (n *Node) ID() string { return n.id }

// Publish signs and sends a notification to every other node.
func (n *Node) Publish(ctx context.Context, command, payload string) error {
	msg := Notification{Command: command, Payload: payload, Node: n.id, Time: n.o.Now().UnixMilli(), Algorithm: Algorithm}
	msg.Signature = msg.sign(n.key)
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if err := n.o.Bus.Publish(ctx, Channel, data); err != nil {
		return fmt.Errorf("notifying the other gateways: %w", err)
	}
	return nil
}

// Run receives notifications until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	return n.o.Bus.Subscribe(ctx, Channel, n.receive, n.subscribed)
}

func (n *Node) subscribed() {
	n.mu.Lock()
	n.subs++
	again := n.subs > 1
	n.mu.Unlock()
	if !again {
		close(n.ready)
	}
	if again {
		n.o.Logger.Info("fleet: subscribed to notifications again; resynchronising in case some were missed")
		if n.o.OnResync != nil {
			n.o.OnResync()
		}
	}
}

// receive checks and acts on one message. It runs on the store's reading goroutine, so what it
// calls must only hand work off (a reload request is queued, not run).
func (n *Node) receive(data []byte) {
	var msg Notification
	if err := json.Unmarshal(data, &msg); err != nil {
		n.reject("not a notification", err.Error())
		return
	}
	if msg.Node == n.id {
		return // this node already acted on what it sent
	}
	if reason := n.check(&msg); reason != "" {
		n.reject(reason, msg.Command)
		return
	}
	n.heard(msg.Node, msg.Command)
	switch msg.Command {
	case GroupReload, APIAdded, APIUpdated, APIRemoved, PolicyChanged:
		n.o.Logger.Info("fleet: reloading on a notification", "command", msg.Command, "from", msg.Node)
		if n.o.OnReload != nil {
			n.o.OnReload(msg.Command)
		}
	case KeySpaceUpdate:
		if n.o.OnKeys != nil && msg.Payload != "" {
			n.o.OnKeys(strings.Split(msg.Payload, ","))
		}
	case DeleteAPICache:
		if n.o.OnCacheFlush != nil && msg.Payload != "" {
			n.o.OnCacheFlush(msg.Payload)
		}
	case FlushJWKS:
		if n.o.OnJWKSFlush != nil && msg.Payload != "" {
			n.o.OnJWKSFlush(msg.Payload)
		}
	default:
		n.o.Logger.Debug("fleet: notification ignored", "command", msg.Command, "from", msg.Node)
	}
}

// heard notes a valid notification from another node.
func (n *Node) heard(node, command string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.peers == nil {
		n.peers = map[string]Peer{}
	}
	if _, ok := n.peers[node]; !ok && len(n.peers) >= maxPeers {
		oldest := ""
		for id, p := range n.peers {
			if oldest == "" || p.LastSeen.Before(n.peers[oldest].LastSeen) {
				oldest = id
			}
		}
		delete(n.peers, oldest)
	}
	n.peers[node] = Peer{Node: node, LastSeen: n.o.Now(), LastCommand: command}
}

// Peers returns the other nodes this one heard a valid notification from, the most recent
// first. A node is seen only when it sends one: a group reload, a changed definition, policy or
// key.
func (n *Node) Peers() []Peer {
	n.mu.Lock()
	out := make([]Peer, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, p)
	}
	n.mu.Unlock()
	slices.SortFunc(out, func(a, b Peer) int { return b.LastSeen.Compare(a.LastSeen) })
	return out
}

// check returns why msg must not be acted on, or "".
func (n *Node) check(msg *Notification) string {
	if msg.Algorithm != Algorithm {
		return fmt.Sprintf("signed with %q, not %s (Tyk's own notifications are not accepted)", msg.Algorithm, Algorithm)
	}
	want := msg.sign(n.key)
	if !hmac.Equal([]byte(want), []byte(msg.Signature)) {
		return "bad signature (a forged notification, or a node with another node_secret)"
	}
	now := n.o.Now()
	sent := time.UnixMilli(msg.Time)
	if d := now.Sub(sent); d > MaxAge || d < -MaxAge {
		return fmt.Sprintf("sent %v from now, more than %v away (a replay, or a node whose clock is off)", d.Round(time.Millisecond), MaxAge)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// Swept at most once a second, so that a burst of notifications costs linear time on the
	// connection's reading goroutine, not quadratic.
	if now.Sub(n.lastSweep) >= time.Second {
		for sig, until := range n.seen {
			if now.After(until) {
				delete(n.seen, sig)
			}
		}
		n.lastSweep = now
	}
	if _, dup := n.seen[msg.Signature]; dup {
		return "already received (a replay)"
	}
	n.seen[msg.Signature] = sent.Add(MaxAge)
	return ""
}

// reject counts a refused notification and logs it, at most once every ten seconds so that a
// flood of forgeries cannot flood the log.
func (n *Node) reject(reason, detail string) {
	n.mu.Lock()
	n.rejected++
	count := n.rejected
	now := n.o.Now()
	log := now.Sub(n.lastWarn) >= 10*time.Second
	if log {
		n.lastWarn = now
	}
	n.mu.Unlock()
	if log {
		n.o.Logger.Warn("fleet: notification refused", "reason", reason, "detail", detail, "refused_so_far", count)
	}
}

// Rejected returns how many notifications were refused so far.
func (n *Node) Rejected() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rejected
}
