package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/jsonerr"
	"github.com/gatehouse/gatehouse/internal/middleware/basicauth"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/httpsig"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// maxSessionSize bounds a key sent to the Gateway API.
const maxSessionSize = 1 << 20

// keyID returns how the request addresses its key: by the key, or with ?hashed=true by its hash.
// keyID is the key a request names: by its hash with any value of ?hashed (Tyk's rule: 1, true,
// yes alike), by its name otherwise.
func keyID(r *http.Request) session.ID {
	return session.ID{Key: r.PathValue("key"), Hashed: r.URL.Query().Get("hashed") != ""}
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.o.Sessions.ListFiltered(r.Context(), r.URL.Query().Get("filter"))
	writeKeyList(w, keys, err)
}

// writeKeyList answers a list of keys (or org ids) as Tyk does, {"keys": [...]}, or the error
// listing them met.
func writeKeyList(w http.ResponseWriter, keys []string, err error) {
	if err != nil {
		writeKeyError(w, err)
		return
	}
	if keys == nil {
		keys = []string{}
	}
	writeJSON(w, http.StatusOK, struct {
		Keys []string `json:"keys"`
	}{keys})
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	id := keyID(r)
	sess, err := s.o.Sessions.Get(r.Context(), id)
	if errors.Is(err, session.ErrNotFound) {
		writeError(w, http.StatusNotFound, "Key not found")
		return
	}
	if err != nil {
		writeKeyError(w, err)
		return
	}
	// As in Tyk, the key is shown as its policies make it (its rate, quota and access rights
	// are theirs where they give them), so that the quota left is the one its requests meet. A
	// policy no longer loaded leaves the key as stored: its requests are refused until it is.
	if eff, err := s.o.Backend.ApplyPolicies(sess); err == nil {
		sess = eff
	}
	if err := s.fillQuota(r, session.CounterID(id), sess); err != nil {
		writeKeyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

// fillQuota reports the quota left from the live counters, which the stored session does not
// track request by request: the session's quota, and each access right's counted apart. hash
// names the counters (a key's session.CounterID, an org's session.OrgCounterID).
func (s *Server) fillQuota(r *http.Request, hash string, sess *apidef.SessionState) error {
	if sess.QuotaMax > 0 {
		u, err := s.o.Counters.Peek(r.Context(), session.QuotaCounter(hash, "", false))
		if err != nil {
			return fmt.Errorf("reading quota: %w", err)
		}
		sess.QuotaRemaining = u.Remaining(sess.QuotaMax)
		if !u.Reset.IsZero() {
			sess.QuotaRenews = u.Reset.Unix()
		}
	}
	for apiID, ar := range sess.AccessRights {
		if ar.Limit.IsZero() || ar.Limit.QuotaMax <= 0 {
			continue
		}
		u, err := s.o.Counters.Peek(r.Context(), session.QuotaCounter(hash, apiID, true))
		if err != nil {
			return fmt.Errorf("reading quota: %w", err)
		}
		lim := *ar.Limit
		lim.QuotaRemaining = u.Remaining(lim.QuotaMax)
		if !u.Reset.IsZero() {
			lim.QuotaRenews = u.Reset.Unix()
		}
		ar.Limit = &lim
		sess.AccessRights[apiID] = ar
	}
	return nil
}

// resetQuota ends the key's quota windows, so its quota starts afresh: the key's own, and those
// counted apart on each API that the sessions (the key as written, and as it was) give access
// to, themselves or through their policies (partitions.per_api).
func (s *Server) resetQuota(r *http.Request, id session.ID, sessions ...*apidef.SessionState) error {
	hash := session.CounterID(id)
	names := []string{session.QuotaCounter(hash, "", false)}
	seen := map[string]bool{}
	perAPI := func(apiID string) {
		if !seen[apiID] {
			seen[apiID] = true
			names = append(names, session.QuotaCounter(hash, apiID, true))
		}
	}
	for _, sess := range sessions {
		if sess == nil {
			continue
		}
		for apiID := range sess.AccessRights {
			perAPI(apiID)
		}
		for _, apiID := range s.o.Backend.PolicyAPIs(sess.PolicyIDs()) {
			perAPI(apiID)
		}
	}
	// Each reset is a round trip on Redis, and a key may name thousands of APIs: a few at once
	// (the client pipelines them), not one after the other.
	errs := make([]error, len(names))
	sem := make(chan struct{}, maxResetsAtOnce)
	var wg sync.WaitGroup
	for i, n := range names {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = s.o.Counters.Reset(r.Context(), n)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("resetting quota: %w", err) // the first: the others are alike
		}
	}
	return nil
}

// maxResetsAtOnce bounds the quota counters one Gateway API write resets at once.
const maxResetsAtOnce = 32

// decodeSession reads and checks the session JSON of the request's body (what: "key", "org
// session"), answering 400 when it cannot.
func decodeSession(w http.ResponseWriter, r *http.Request, what string) (*apidef.SessionState, bool) {
	raw, ok := readBody(w, r, maxSessionSize, what)
	if !ok {
		return nil, false
	}
	var sess apidef.SessionState
	if err := json.Unmarshal(raw, &sess); err != nil {
		writeError(w, http.StatusBadRequest, "the "+what+" is not valid: "+jsonerr.Describe(raw, err).Error())
		return nil, false
	}
	if err := sess.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "the "+what+" is not valid: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		return nil, false
	}
	return &sess, true
}

func (s *Server) readSession(w http.ResponseWriter, r *http.Request) (*apidef.SessionState, bool) {
	sess, ok := decodeSession(w, r, "key")
	if !ok {
		return nil, false
	}
	if err := basicauth.HashPassword(&sess.BasicAuthData); err != nil {
		writeError(w, http.StatusBadRequest, "the key is not valid: "+err.Error())
		return nil, false
	}
	if err := endpoint.CheckPatterns(sess.AccessRights); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	if len(sess.AccessRights) == 0 && len(sess.PolicyIDs()) == 0 && !s.o.AllowMasterKeys {
		writeError(w, http.StatusBadRequest, "Failed to create key, keys must have at least one Access Rights record set (or a policy); keys without any are master keys, allowed only with allow_master_keys.")
		return nil, false
	}
	for _, p := range sess.PolicyIDs() {
		if !s.o.Backend.PolicyExists(p) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("policy %q is not loaded on this gateway: add it to the policies file, or store it with POST /tyk/policies, then reload (GET /tyk/reload/group for every gateway)", p))
			return nil, false
		}
	}
	// What would refuse every request of the key (a policy of another org) is said now.
	if _, err := s.o.Backend.ApplyPolicies(sess); err != nil {
		writeError(w, http.StatusBadRequest, "the key's policies cannot apply to it: "+err.Error()+"; set the key's org_id to its policies' org, or name policies of its own")
		return nil, false
	}
	if sess.OrgID != "" && !session.ValidOrgID(sess.OrgID) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("org_id %.80q: an org id is 1 to %d bytes of UTF-8 text without spaces, control or format characters (keys generated from it must fit in a header)", sess.OrgID, session.MaxOrgID))
		return nil, false
	}
	if msg := otherAPIID(sess.AccessRights); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return nil, false
	}
	for apiID, ar := range sess.AccessRights {
		if ar.APIID == "" {
			ar.APIID = apiID
			sess.AccessRights[apiID] = ar
		}
	}
	if sess.DateCreated.IsZero() {
		sess.DateCreated = time.Now().UTC()
	}
	sess.LastUpdated = fmt.Sprint(time.Now().Unix())
	return sess, true
}

// ttl is how long a key is kept: its own session_lifetime when set, else the longest
// session_lifetime of the APIs it may call (as in Tyk), else for ever.
func (s *Server) ttl(sess *apidef.SessionState) time.Duration {
	if sess.SessionLifetime > 0 {
		return time.Duration(sess.SessionLifetime) * time.Second
	}
	ids := make([]string, 0, len(sess.AccessRights))
	for id := range sess.AccessRights {
		ids = append(ids, id)
	}
	return s.o.Backend.SessionLifetime(ids)
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.readSession(w, r)
	if !ok {
		return
	}
	if !s.fillHMACSecret(w, sess, nil) {
		return
	}
	key := session.Generate(sess.OrgID)
	if sess.Certificate != "" {
		// A certificate's key is named from it: one key per certificate, as in Tyk. The key
		// is created only if absent, so that of two requests at once (on any gateways
		// sharing the store) one gets 409 rather than both writing.
		key = session.CertificateKey(sess.Certificate)
		if !s.certificateKnown(w, r, sess.Certificate) {
			return
		}
	}
	s.storeKey(w, r, session.ID{Key: key}, sess, nil, session.Read{}, sess.Certificate == "")
}

// certificateKnown refuses a key for a certificate the certificate store does not hold: no
// request could use it (certificate auth checks the store).
func (s *Server) certificateKnown(w http.ResponseWriter, r *http.Request, id string) bool {
	if s.o.Certs == nil {
		writeError(w, http.StatusNotImplemented, "keys for client certificates need the certificate store")
		return false
	}
	ok, err := s.o.Certs.Holds(r.Context(), id)
	switch {
	case err != nil:
		writeKeyError(w, err)
		return false
	case !ok:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("certificate %s is not in the certificate store: add the client certificate with POST /tyk/certs first, and give the id it answers", id))
		return false
	}
	return true
}

// certificateName checks that id, a key written by name, is named as its certificate says:
// a key named for a certificate (session.CertificateKeyPrefix) must carry it, and a key that
// carries one must be named for it, or its name, no secret, would be a token.
func certificateName(w http.ResponseWriter, id session.ID, sess *apidef.SessionState) bool {
	want := ""
	if sess.Certificate != "" {
		want = session.CertificateKey(sess.Certificate)
	}
	var named bool
	if id.Hashed {
		named = want != "" && id.Key == session.HashKey(want)
	} else {
		named = id.Key == want
	}
	switch {
	case sess.Certificate != "" && !named:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("a key for a client certificate is named from it (%s): create it with POST /tyk/keys, or write it by that name", want))
		return false
	case sess.Certificate == "" && !id.Hashed && strings.HasPrefix(id.Key, session.CertificateKeyPrefix):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("key names beginning %q are for client certificates' keys: set certificate, or choose another name", session.CertificateKeyPrefix))
		return false
	}
	return true
}

// fillHMACSecret gives a key that enables HMAC signatures and names no secret one, as Tyk does:
// the secret it had (old, when the key is rewritten), else a new one. It is returned with the
// key by GET /tyk/keys/{key}, as in Tyk; it is never logged.
func (s *Server) fillHMACSecret(w http.ResponseWriter, sess, old *apidef.SessionState) bool {
	if !sess.HMACEnabled || sess.HmacSecret != "" {
		return true
	}
	if old != nil && old.HmacSecret != "" {
		sess.HmacSecret = old.HmacSecret
		return true
	}
	secret, err := httpsig.GenerateSecret()
	if err != nil {
		writeServerError(w, err)
		return false
	}
	sess.HmacSecret = secret
	return true
}

func (s *Server) putKey(w http.ResponseWriter, r *http.Request) {
	id := keyID(r)
	if id.Key == "" {
		writeError(w, http.StatusBadRequest, "missing key")
		return
	}
	old, read, err := s.o.Sessions.GetRead(r.Context(), id)
	exists := err == nil
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		writeKeyError(w, err)
		return
	}
	if r.Method == http.MethodPut && !exists {
		writeError(w, http.StatusNotFound, "Key not found")
		return
	}
	sess, ok := s.readSession(w, r)
	if !ok || !s.fillHMACSecret(w, sess, old) {
		return
	}
	if id.Hashed && !exists && sess.Certificate == "" {
		// Its name is unknown: it could be one kept for certificates' keys.
		writeError(w, http.StatusBadRequest, "a new key is created by its name (POST /tyk/keys or /tyk/keys/{name}), not by its hash")
		return
	}
	if n := s.o.Sessions.MinTokenLength(); !id.Hashed && !exists && len(id.Key) < n {
		// As in Tyk (min_token_length): requests would not find it.
		writeError(w, http.StatusBadRequest, fmt.Sprintf("a key name must be at least %d bytes long (min_token_length): requests with a shorter token are refused as unknown keys; choose a longer name", n))
		return
	}
	if !id.Hashed && !exists && strings.ContainsFunc(id.Key, func(r rune) bool { return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) }) {
		// Invisible or direction-changing characters (U+202E) would make the key read as
		// another in logs, lists and terminals; org ids refuse them too.
		writeError(w, http.StatusBadRequest, "a key name may not hold invisible formatting characters (such as U+202E, which reverses the text after it) or line and paragraph separators: choose another name")
		return
	}
	if !id.Hashed && !exists && s.o.Sessions.HashKeys() && session.IsHash(id.Key) {
		// Key hashes are no secret (GET /tyk/keys lists them, events and records carry them):
		// a key named like one could be used by whoever saw another key's hash.
		writeError(w, http.StatusBadRequest, "a key name of 64 hex digits has the form of a key hash, which is no secret (GET /tyk/keys lists hashes): choose another name; to address a key by its hash, add ?hashed=true")
		return
	}
	if exists && old.Certificate != "" && sess.Certificate == "" {
		// Rewritten without it, a certificate's key would be a token named in public.
		writeError(w, http.StatusBadRequest, "the key is a client certificate's: keep its certificate field, or delete the key")
		return
	}
	if !certificateName(w, id, sess) {
		return
	}
	if newCert := sess.Certificate != "" && (old == nil || old.Certificate != sess.Certificate); newCert && !s.certificateKnown(w, r, sess.Certificate) {
		return
	}
	if exists {
		keepOnRewrite(sess, old)
	}
	// old is nil for a new key (Get found none).
	s.storeKey(w, r, id, sess, old, read, false)
}

// keepOnRewrite keeps of old, the key being written over, what Tyk keeps: its creation date,
// and a basic auth user's password when the new session names none. An operator changing a
// user's rate limit does not repeat the password (which GET does not give as it was sent);
// losing it would lock the user out and make the username, no secret, a key.
func keepOnRewrite(sess, old *apidef.SessionState) {
	if !old.DateCreated.IsZero() {
		sess.DateCreated = old.DateCreated
	}
	if sess.BasicAuthData.Password == "" {
		sess.BasicAuthData = old.BasicAuthData
	}
}

// storeKey writes sess as the key id: a new key when old, the key written over, is nil. A
// fresh key (POST /tyk/keys) is written only if no key has its name, in one step of the store:
// a certificate's key, whose name is fixed, is then created once however many requests race.
func (s *Server) storeKey(w http.ResponseWriter, r *http.Request, id session.ID, sess, old *apidef.SessionState, read session.Read, generated bool) {
	created := old == nil
	if created {
		startTrial(s.o.Backend, sess)
		// A new key is created only if still absent, on any gateway sharing the store: one key
		// per certificate however many requests race, and a key another request created
		// meanwhile is not written over.
		if err := s.o.Sessions.Create(r.Context(), id, sess, s.ttl(sess)); err != nil {
			// Nothing is reported as created when the store refused the write.
			switch {
			case errors.Is(err, storage.ErrExists) && sess.Certificate != "":
				writeError(w, http.StatusConflict, "Failed to create key - Key with given certificate already found: "+id.Key)
			case errors.Is(err, storage.ErrExists):
				writeError(w, http.StatusConflict, "Failed to create key - a key by that name exists")
			default:
				writeKeyError(w, err)
			}
			return
		}
	} else if !s.rewriteKey(w, r, id, sess, read) {
		return
	}
	hash := session.CounterID(id)
	st := apiStatus{Key: id.Key, Status: "ok", Action: "modified"}
	if created {
		st.Action = "added"
	}
	s.o.Logger.Info("key stored", "key_hash", short(hash), "action", st.Action)
	// The key is written: the fleet and the event handlers hear of it now, whatever follows.
	switch {
	case created && r.URL.Path == "/tyk/keys/create":
		s.o.Backend.KeyEvent("TokenCreated", "Key generated.", sess.OrgID, hash) // Tyk's words there
	case created:
		s.o.Backend.KeyEvent("TokenCreated", "Key modified.", sess.OrgID, hash)
	default:
		s.o.Backend.KeysChanged(r.Context(), []string{hash})
		s.o.Backend.KeyEvent("TokenUpdated", "Key modified.", sess.OrgID, hash)
	}
	// A key just generated has no counters to reset (its name is new); any other may (a
	// certificate's key, or one named by the caller, may follow a deleted one).
	if !generated && (created || r.URL.Query().Get("suppress_reset") != "1") {
		if err := s.resetQuota(r, id, sess, old); err != nil {
			writeKeyError(w, fmt.Errorf("the key is stored, but its quota was not reset: %w", err))
			return
		}
	}
	if s.o.Sessions.HashKeys() {
		st.KeyHash = hash
	}
	writeJSON(w, http.StatusOK, st)
}

// rewriteKey writes sess over the key id while the store still holds what the request read
// (read): a key deleted or changed meanwhile, through this gateway or another, is left as it is
// (a DELETE is never undone by a rewrite that read the key before it), and the client is told.
func (s *Server) rewriteKey(w http.ResponseWriter, r *http.Request, id session.ID, sess *apidef.SessionState, read session.Read) bool {
	_, ok, err := s.o.Sessions.Update(r.Context(), id, read, sess, s.ttl(sess))
	if err != nil {
		writeKeyError(w, err)
		return false
	}
	if ok {
		return true
	}
	switch _, err := s.o.Sessions.Get(r.Context(), id); {
	case errors.Is(err, session.ErrNotFound):
		writeError(w, http.StatusNotFound, "Key not found")
	case err != nil:
		writeKeyError(w, fmt.Errorf("the key was not written (it changed meanwhile, or the store failed): %w", err))
	default:
		writeError(w, http.StatusConflict, "the key changed while this request was handled (another request or a plugin wrote it); nothing was written: read it again and retry")
	}
	return false
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	id := keyID(r)
	sess, err := s.o.Sessions.Get(r.Context(), id)
	if errors.Is(err, session.ErrNotFound) {
		writeError(w, http.StatusNotFound, "Key not found")
		return
	}
	if err != nil {
		writeKeyError(w, err)
		return
	}
	existed, err := s.o.Sessions.Delete(r.Context(), id)
	switch {
	case err != nil:
		writeKeyError(w, err)
		return
	case !existed:
		// Another request deleted it meanwhile: that one answers for it, and tells of it.
		writeError(w, http.StatusNotFound, "Key not found")
		return
	}
	hash := session.CounterID(id)
	s.o.Logger.Info("key deleted", "key_hash", short(hash))
	s.o.Backend.KeysChanged(r.Context(), []string{hash})
	s.o.Backend.KeyEvent("TokenDeleted", "Key deleted.", sess.OrgID, hash)
	if err := s.resetQuota(r, id, sess); err != nil {
		writeKeyError(w, fmt.Errorf("the key is deleted, but its quota was not reset: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, apiStatus{Key: id.Key, Status: "ok", Action: "deleted"})
}

// writeKeyError answers an error reading or writing a key: 400 for an id that cannot name one, 503 when
// the store cannot be reached (a client may retry), 500 otherwise.
func writeKeyError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, session.ErrBadID):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeServerError(w, err)
	}
}

// writeServerError answers an error of the gateway or its store: 503 when the store cannot be
// used for now (Redis does not answer, or refuses writes: try again once it is mended), 500
// otherwise.
func writeServerError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, storage.ErrUnavailable) {
		code = http.StatusServiceUnavailable
	}
	writeError(w, code, err.Error())
}

// short shortens a key hash for logs.
func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// otherAPIID says which access right of a key or policy names another API in its api_id than
// its key, "" when none does: the map key is what grants, so such an api_id would only mislead.
func otherAPIID(rights map[string]apidef.AccessDefinition) string {
	for _, apiID := range slices.Sorted(maps.Keys(rights)) {
		if id := rights[apiID].APIID; id != "" && id != apiID {
			return fmt.Sprintf("access_rights[%.80q].api_id is %.80q: it must name the API of its key (or be left out)", apiID, id)
		}
	}
	return ""
}
