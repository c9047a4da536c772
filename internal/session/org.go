package session

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/apidef"
)

// An organisation's session (Tyk's org key, written with /tyk/org/keys/{org_id}) holds the rate
// limit, quota and state every API of that org_id shares when the gateway enforces org quotas
// (enforce_org_quotas). It is stored beside the keys, under OrgPrefix and the org id, as Tyk's
// org store keeps it.

// OrgPrefix is put before an org id to form the storage key of its session, as in Tyk.
const OrgPrefix = "orgkey."

// MaxOrgID bounds an org id's length, in bytes.
const MaxOrgID = 256

// ValidOrgID reports whether orgID can name an org session: 1 to MaxOrgID bytes of UTF-8 text
// without control characters, white space or format characters (a right-to-left override).
func ValidOrgID(orgID string) bool {
	return orgID != "" && len(orgID) <= MaxOrgID && utf8.ValidString(orgID) &&
		!strings.ContainsFunc(orgID, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) })
}

// orgStorageKey returns the storage key of orgID's session, or an error matching ErrBadID
// when orgID cannot name an org (ValidOrgID).
func orgStorageKey(orgID string) (string, error) {
	if !ValidOrgID(orgID) {
		return "", fmt.Errorf("%w: an org id is 1 to %d bytes of UTF-8 text without spaces, control or format characters", ErrBadID, MaxOrgID)
	}
	return OrgPrefix + orgID, nil
}

// OrgCounterID returns the identity the counters of orgID's limits are named with (as
// QuotaCounter's and RateWindow's keyHash): "org-" and the id's SHA-256, so that no org id can
// reach into a key's counters or break a Redis Cluster hash tag.
func OrgCounterID(orgID string) string {
	return "org-" + HashKey(orgID)
}

// Org returns the shared decoding of orgID's session for the request path (the store may answer
// from its node-local copy), or ErrNotFound. It must not be changed.
func (m *Manager) Org(ctx context.Context, orgID string) (*apidef.SessionState, error) {
	sk, err := orgStorageKey(orgID)
	if err != nil {
		return nil, err
	}
	return m.getStored(ctx, sk, true)
}

// OrgReader returns Org for one org, its storage key worked out once; an error matching
// ErrBadID when orgID cannot name an org.
func (m *Manager) OrgReader(orgID string) (func(ctx context.Context) (*apidef.SessionState, error), error) {
	sk, err := orgStorageKey(orgID)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (*apidef.SessionState, error) { return m.getStored(ctx, sk, true) }, nil
}

// GetOrg returns orgID's session as the store holds it, the caller's own copy, or ErrNotFound.
func (m *Manager) GetOrg(ctx context.Context, orgID string) (*apidef.SessionState, error) {
	sk, err := orgStorageKey(orgID)
	if err != nil {
		return nil, err
	}
	s, err := m.getStored(ctx, sk, false)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}

// PutOrg stores s as orgID's session. A positive ttl makes it vanish after it.
func (m *Manager) PutOrg(ctx context.Context, orgID string, s *apidef.SessionState, ttl time.Duration) error {
	sk, err := orgStorageKey(orgID)
	if err != nil {
		return err
	}
	_, err = m.write(ctx, sk, s, ttl, m.kv.Set)
	return err
}

// DeleteOrg removes orgID's session and reports whether it existed.
func (m *Manager) DeleteOrg(ctx context.Context, orgID string) (bool, error) {
	sk, err := orgStorageKey(orgID)
	if err != nil {
		return false, err
	}
	return m.delete(ctx, sk)
}

// ListOrgs returns the ids of the orgs with a session.
func (m *Manager) ListOrgs(ctx context.Context) ([]string, error) {
	keys, err := m.kv.Keys(ctx, OrgPrefix)
	if err != nil {
		return nil, fmt.Errorf("listing org sessions: %w", err)
	}
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, OrgPrefix)
	}
	return keys, nil
}
