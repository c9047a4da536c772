package fleet

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// NodesSet is the document set (a Redis hash) where the nodes of a fleet announce themselves,
// one document per node id.
const NodesSet = "gatehouse-nodes"

// Announcement timing: a node announces itself every AnnounceEvery; one not heard from for
// ForgetAfter is removed from NodesSet by the next node that announces itself, as is one dated
// more than FutureSkew after that node's clock (a far-future time would otherwise never age).
// An announcement whose signature fails (written under another node secret, as during a
// rotation, or by a client of Redis without one) is not listed, and is removed only when its
// time says so. A node reads at most ReadAtMost announcements of NodesSet each time it
// announces itself or lists the fleet, so that a client of Redis filling the set cannot make
// every node read and verify all of it every AnnounceEvery; past that many, Redis picks them
// at random, so that every entry is looked at over the rounds. Nor can it by size: an entry
// whose id or announcement is over MaxAnnouncementBytes is not read (only its size is), and the
// node that announces itself removes it, so that a few entries of many MiB do not make Redis
// build a reply of hundreds of MiB for every node every AnnounceEvery.
const (
	AnnounceEvery = 10 * time.Second
	// StaleAfter is how long a node may go unheard and still count as live (three
	// announcements missed): the status page marks it stale past it, and the listen-path check
	// of segmented fleets leaves it out.
	StaleAfter  = 3 * AnnounceEvery
	ForgetAfter = 10 * time.Minute
	FutureSkew  = 2 * time.Minute
	ReadAtMost  = 1000
	// MaxAnnouncementBytes bounds an announcement (and a node id) read from NodesSet: a node's
	// own is a few hundred bytes, a little more per tag of a segmented node. Announce refuses to
	// write a larger one, which the others would remove.
	MaxAnnouncementBytes = 8 << 10
)

// ErrAnnouncementTooLarge is returned by Announce for an announcement over
// MaxAnnouncementBytes (a segmented node with very many tags).
var ErrAnnouncementTooLarge = errors.New("fleet: the announcement is too large")

// sampleLimits is how NodesSet is read: at most ReadAtMost entries of at most
// MaxAnnouncementBytes; larger ones are removed when drop is set.
func sampleLimits(drop bool) storage.SampleLimits {
	return storage.SampleLimits{Count: ReadAtMost, Bytes: MaxAnnouncementBytes, DropLarger: drop}
}

// Announcement is what a node says of itself in NodesSet, signed like a notification, so that a
// client of Redis without the node secret cannot list a node that does not exist.
type Announcement struct {
	Node     string `json:"node"`
	Version  string `json:"version"`
	Hostname string `json:"hostname"`
	Started  int64  `json:"started"` // Unix milliseconds
	Time     int64  `json:"time"`    // Unix milliseconds: when it was written
	// APIs is how many APIs the node serves.
	APIs int `json:"apis"`
	// Tags are the tags of a segmented node (db_app_conf_options), nil for one that serves
	// every shared definition. TagsSignature signs them with the rest: apart from Signature,
	// which nodes from before segments check, so that they still list a segmented node.
	Tags          []string `json:"tags,omitempty"`
	TagsSignature string   `json:"tags_signature,omitempty"`
	Signature     string   `json:"signature"`
}

// sign returns the announcement's signature under key; the prefix keeps it apart from
// notifications' signatures.
func (a *Announcement) sign(key []byte) string {
	return a.mac(key, "announcement;", nil)
}

// signTags returns the signature of the announcement with its tags.
func (a *Announcement) signTags(key []byte) string {
	return a.mac(key, "announcement-tags;", a.Tags)
}

func (a *Announcement) mac(key []byte, prefix string, tags []string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(prefix))
	for _, f := range append([]string{a.Node, a.Version, a.Hostname, strconv.FormatInt(a.Started, 10), strconv.FormatInt(a.Time, 10), strconv.Itoa(a.APIs)}, tags...) {
		fmt.Fprintf(m, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Announce writes the node's announcement to NodesSet (all its fields but Node, Time
// and Signature), and removes, of at most ReadAtMost announcements it reads back, those dated
// more than ForgetAfter ago or more than FutureSkew ahead, signed or not, and those over
// MaxAnnouncementBytes (unread).
func (n *Node) Announce(ctx context.Context, docs storage.Documents, a Announcement) error {
	now := n.o.Now()
	a.Node, a.Time = n.id, now.UnixMilli()
	a.Signature, a.TagsSignature = a.sign(n.key), ""
	if len(a.Tags) > 0 {
		a.TagsSignature = a.signTags(n.key)
	}
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if len(data) > MaxAnnouncementBytes {
		return fmt.Errorf("%w: %d bytes (%d tags), more than %d", ErrAnnouncementTooLarge, len(data), len(a.Tags), MaxAnnouncementBytes)
	}
	if err := docs.PutDocument(ctx, NodesSet, n.id, data, storage.Upsert); err != nil {
		return fmt.Errorf("announcing the node: %w", err)
	}
	// Entries too large to be announcements are removed as they are picked, unread.
	some, err := docs.SampleDocuments(ctx, NodesSet, sampleLimits(true))
	if err != nil {
		return fmt.Errorf("reading the fleet's nodes: %w", err)
	}
	for id, doc := range some.Docs {
		// Only the time is read: one that does not verify under this node's secret may be a
		// live node's under another (a node_secret rotation), and is left alone while current.
		if !expired(doc, now) {
			continue
		}
		if _, err := docs.DeleteDocument(ctx, NodesSet, id); err != nil {
			return fmt.Errorf("forgetting node %s: %w", id, err)
		}
	}
	return nil
}

// expired reports whether an announcement, signed or not, is dated more than ForgetAfter before
// now or more than FutureSkew after it. One without a time (not an announcement) counts as
// dated long ago.
func expired(doc []byte, now time.Time) bool {
	var a struct {
		Time int64 `json:"time"`
	}
	if json.Unmarshal(doc, &a) != nil {
		return true
	}
	at := time.UnixMilli(a.Time)
	return now.Sub(at) > ForgetAfter || at.Sub(now) > FutureSkew
}

// verify decodes the announcement stored under id and reports whether it is one to list: its
// signature verifies under the node secret, it names id, and it is not dated more than
// FutureSkew after now.
func (n *Node) verify(id string, doc []byte, now time.Time) (Announcement, bool) {
	var a Announcement
	if json.Unmarshal(doc, &a) != nil || a.Node != id || !hmac.Equal([]byte(a.sign(n.key)), []byte(a.Signature)) {
		return a, false
	}
	// Tags that do not verify were written by someone else than the node: the whole
	// announcement is in doubt.
	if (len(a.Tags) > 0 || a.TagsSignature != "") && !hmac.Equal([]byte(a.signTags(n.key)), []byte(a.TagsSignature)) {
		return a, false
	}
	return a, time.UnixMilli(a.Time).Sub(now) <= FutureSkew
}

// Nodes returns, of at most ReadAtMost announcements read from NodesSet, those whose signature
// verifies under the node secret and that are not dated beyond FutureSkew, the most recently
// renewed first; how many of those read were left out (unverified, with those too large to be
// read); and how many NodesSet holds beyond those read (unread).
func (n *Node) Nodes(ctx context.Context, docs storage.Documents) (nodes []Announcement, unverified, unread int, err error) {
	some, err := docs.SampleDocuments(ctx, NodesSet, sampleLimits(false))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("reading the fleet's nodes: %w", err)
	}
	now := n.o.Now()
	unverified = some.Skipped
	for id, doc := range some.Docs {
		a, ok := n.verify(id, doc, now)
		if !ok {
			unverified++
			continue
		}
		nodes = append(nodes, a)
	}
	slices.SortFunc(nodes, func(a, b Announcement) int {
		if c := cmp.Compare(b.Time, a.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	return nodes, unverified, max(some.Total-len(some.Docs)-some.Skipped, 0), nil
}
