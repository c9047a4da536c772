package admin_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/session"
)

// The fuzz targets below send a fuzzed JSON body to the Gateway API over memBackend and check
// what the documentation promises of the reply: no panic; 200 when the write was made, 400 with
// the reason for a body that is refused, 404 for a PUT to an id that does not exist (409 and
// 500 are documented too, but memBackend never conflicts that way and never fails); every error
// reply is Tyk's {"status": "error", "message": ...}; and a 200 means the object was stored and
// reads back as what was checked.
//
// Seeds are in testdata/fuzz/<target>.
//
// A body that names a field twice in different case ("rate" and "RATE") is refused: it would be
// checked as encoding/json reads it (the last in the document wins) and stored re-sorted (seeds
// post-case-variant-*). A key named by bytes that are not UTF-8 is refused too (seed
// FuzzKeyBody/invalid-utf8-key).

// allowedStatus are the statuses the Gateway API documents for writes.
var allowedStatus = []int{http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusInternalServerError}

// checkStatus fails on an undocumented status, on a 500 (memBackend and the memory store never
// fail, so a 500 is the handler's own fault) and on an error reply that is not Tyk's error JSON.
func checkStatus(t *testing.T, code int, body []byte) {
	t.Helper()
	if !slices.Contains(allowedStatus, code) {
		t.Fatalf("status %d is not one of %v: %s", code, allowedStatus, body)
	}
	if code == http.StatusInternalServerError {
		t.Fatalf("500 from an in-memory backend that never fails: %s", body)
	}
	if code != http.StatusOK {
		checkErrorBody(t, code, body)
	}
}

// foldedDuplicates reports whether the JSON object body has two top-level keys that differ
// only in letter case. encoding/json fills a field from every key matching its name in any case,
// the last one in the document winning; the Gateway API stores the body's top-level keys
// re-sorted (nested objects as sent), so that the spelling that sorts last wins when the stored
// copy is read.
func foldedDuplicates(body []byte) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return false
	}
	seen := map[string]bool{}
	for k := range fields {
		// Upper then lower case folds as encoding/json does, "ſ" and the Kelvin sign included.
		f := strings.ToLower(strings.ToUpper(k))
		if seen[f] {
			return true
		}
		seen[f] = true
	}
	return false
}

// pathID turns a fuzzed id into a path segment the router gives back as is: "", "." and ".."
// would name another route or be cleaned away, and net/http's ServeMux reads a last segment
// "%2F" as a trailing slash (POST /tyk/keys/%2F is POST /tyk/keys/), so they become fallback.
func pathID(id, fallback string) string {
	if id == "" || id == "." || id == ".." || id == "/" {
		return fallback
	}
	return id
}

// existingAPI is stored before each FuzzAPIBody run, so that a PUT can succeed.
const existingAPI = `{"api_id": "fz-existing", "name": "Existing", "use_keyless": true,
	"proxy": {"listen_path": "/existing/", "target_url": "http://existing.test"},
	"version_data": {"not_versioned": true, "versions": {"Default": {"name": "Default"}}}}`

// FuzzAPIBody sends a definition to POST /tyk/apis, or with put to PUT /tyk/apis/{id}.
func FuzzAPIBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, put bool, id string, body []byte) {
		s := newTestServer(t, true)
		s.mustDo(t, http.MethodPost, "/tyk/apis", []byte(existingAPI))

		method, target, action := http.MethodPost, "/tyk/apis", "added"
		if put {
			id = pathID(id, "fz-existing")
			method, target, action = http.MethodPut, "/tyk/apis/"+url.PathEscape(id), "modified"
		}
		code, out := s.do(t, method, target, body)
		checkStatus(t, code, out)
		if code == http.StatusNotFound && !put {
			t.Fatalf("404 for a POST: %s", out)
		}
		if code != http.StatusOK {
			return
		}
		if foldedDuplicates(body) {
			t.Fatalf("a body naming a field twice in different case was accepted: %q", body)
		}
		r := checkWriteReply(t, out, action)
		if put && r.Key != id {
			t.Fatalf("PUT %s answered for key %q", target, r.Key)
		}

		// Stored: it reads back, under its id.
		code, stored := s.do(t, http.MethodGet, "/tyk/apis/"+url.PathEscape(r.Key), nil)
		if code != http.StatusOK {
			t.Fatalf("definition %q answered 200 but reads back %d: %s\nbody: %q", r.Key, code, stored, body)
		}
		var got apidef.APIDefinition
		if err := json.Unmarshal(stored, &got); err != nil {
			t.Fatalf("stored definition does not decode: %v\n%s", err, stored)
		}
		if got.APIID != r.Key {
			t.Fatalf("stored definition has api_id %q, not %q", got.APIID, r.Key)
		}
		// What is stored is what was checked: the gateway serves the stored definition after
		// the next reload, so a difference serves something other than what was accepted.
		enc, err := json.Marshal(&got)
		if err != nil {
			t.Fatal(err)
		}
		s.backend.mu.Lock()
		checked := s.backend.checkedAPIs[r.Key]
		s.backend.mu.Unlock()
		if !bytes.Equal(enc, checked) {
			t.Fatalf("the stored definition differs from the one checked\nbody:    %q\nchecked: %s\nstored:  %s", body, checked, enc)
		}
		if u := got.Unsupported(); len(u) > 0 {
			t.Fatalf("the stored definition enables unsupported features %q\nbody: %q", u, body)
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("the stored definition is invalid: %v\nbody: %q", err, body)
		}
	})
}

// existingKey is stored before each FuzzKeyBody run, so that a PUT can succeed.
const existingKey = "fz-existing-key"

// FuzzKeyBody sends a key to POST /tyk/keys/create (key ""), POST /tyk/keys/{key}, or with put
// PUT /tyk/keys/{key}, addressing it by hash with hashed, on a gateway hashing keys or not.
func FuzzKeyBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, hashKeys, put, hashed bool, key string, body []byte) {
		s := newTestServer(t, hashKeys)
		s.mustDo(t, http.MethodPost, "/tyk/keys/"+existingKey,
			[]byte(`{"rate": 1, "per": 1, "access_rights": {"fz-existing": {"api_id": "fz-existing", "versions": ["Default"]}}}`))

		method, target, action := http.MethodPost, "/tyk/keys/create", "added"
		create := key == "" || key == "create" && !put
		if !create {
			key = pathID(key, existingKey)
			method = http.MethodPost
			if put {
				method = http.MethodPut
			}
			target = "/tyk/keys/" + url.PathEscape(key)
			if hashed {
				target += "?hashed=true"
			}
			// Whether the key exists decides the action.
			action = "added"
			if _, err := s.sessions.Get(t.Context(), session.ID{Key: key, Hashed: hashed}); err == nil {
				action = "modified"
			}
		}
		code, out := s.do(t, method, target, body)
		checkStatus(t, code, out)
		if code == http.StatusNotFound && method != http.MethodPut {
			t.Fatalf("404 for a POST: %s", out)
		}
		if code != http.StatusOK {
			return
		}
		r := checkWriteReply(t, out, action)
		name := r.Key // the key written
		if !create {
			if r.Key != key {
				t.Fatalf("%s %s answered for key %q", method, target, r.Key)
			}
			name = key
		}
		id := session.ID{Key: name, Hashed: hashed && !create}
		if hashKeys && r.KeyHash != session.CounterID(id) {
			t.Fatalf("key_hash %q, want %q", r.KeyHash, session.CounterID(id))
		}
		if !hashKeys && r.KeyHash != "" {
			t.Fatalf("key_hash %q given with hash_keys off", r.KeyHash)
		}

		// Stored: it reads back through the Gateway API, as sent.
		get := "/tyk/keys/" + url.PathEscape(name)
		if id.Hashed {
			get += "?hashed=true"
		}
		code, stored := s.do(t, http.MethodGet, get, nil)
		if code != http.StatusOK {
			t.Fatalf("key answered 200 but reads back %d: %s\nbody: %q", code, stored, body)
		}
		var sent, got apidef.SessionState
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("the body was accepted but does not decode: %v", err)
		}
		if err := json.Unmarshal(stored, &got); err != nil {
			t.Fatalf("stored key does not decode: %v\n%s", err, stored)
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("the stored key is invalid: %v\nbody: %q", err, body)
		}
		if w, g := keyProjection(&sent), keyProjection(&got); !reflect.DeepEqual(w, g) {
			t.Fatalf("the stored key differs from the one sent\nbody: %q\nsent:   %+v\nstored: %+v", body, w, g)
		}
	})
}

// keyFields is what a stored key must keep of the key sent: everything but what the Gateway
// API fills in (dates, the quota left, an access right's missing api_id).
type keyFields struct {
	Rate, Per                  float64
	QuotaMax, QuotaRenewalRate int64
	Expires                    int64
	OrgID, Alias               string
	IsInactive                 bool
	Policies                   []string
	Tags                       []string
	MetaData                   string
	SessionLifetime            int64
	Access                     map[string]string
}

func keyProjection(s *apidef.SessionState) keyFields {
	k := keyFields{
		Rate: s.Rate, Per: s.Per, QuotaMax: s.QuotaMax, QuotaRenewalRate: s.QuotaRenewalRate,
		Expires: s.Expires, OrgID: s.OrgID, Alias: s.Alias, IsInactive: s.IsInactive,
		Policies: s.PolicyIDs(), Tags: s.Tags, SessionLifetime: s.SessionLifetime,
		Access: map[string]string{},
	}
	md, _ := json.Marshal(s.MetaData)
	k.MetaData = string(md)
	for id, ar := range s.AccessRights {
		ar.APIID = ""
		if ar.Limit != nil {
			l := *ar.Limit
			l.QuotaRemaining, l.QuotaRenews = 0, 0
			ar.Limit = &l
		}
		enc, _ := json.Marshal(ar)
		k.Access[id] = string(enc)
	}
	return k
}

// existingPolicy is stored before each FuzzPolicyBody run, so that a PUT can succeed.
const existingPolicy = `{"id": "fz-existing-pol", "name": "Existing", "rate": 10, "per": 1, "active": true}`

// FuzzPolicyBody sends a policy to POST /tyk/policies, or with put to PUT /tyk/policies/{id}.
func FuzzPolicyBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, put bool, id string, body []byte) {
		s := newTestServer(t, true)
		s.mustDo(t, http.MethodPost, "/tyk/policies", []byte(existingPolicy))

		method, target, action := http.MethodPost, "/tyk/policies", "added"
		if put {
			id = pathID(id, "fz-existing-pol")
			method, target, action = http.MethodPut, "/tyk/policies/"+url.PathEscape(id), "modified"
		}
		code, out := s.do(t, method, target, body)
		checkStatus(t, code, out)
		if code == http.StatusNotFound && !put {
			t.Fatalf("404 for a POST: %s", out)
		}
		if code != http.StatusOK {
			return
		}
		if foldedDuplicates(body) {
			t.Fatalf("a body naming a field twice in different case was accepted: %q", body)
		}
		r := checkWriteReply(t, out, action)
		if put && r.Key != id {
			t.Fatalf("PUT %s answered for key %q", target, r.Key)
		}

		code, stored := s.do(t, http.MethodGet, "/tyk/policies/"+url.PathEscape(r.Key), nil)
		if code != http.StatusOK {
			t.Fatalf("policy %q answered 200 but reads back %d: %s\nbody: %q", r.Key, code, stored, body)
		}
		var got apidef.Policy
		if err := json.Unmarshal(stored, &got); err != nil {
			t.Fatalf("stored policy does not decode: %v\n%s", err, stored)
		}
		if got.ID != r.Key {
			t.Fatalf("stored policy has id %q, not %q", got.ID, r.Key)
		}
		// What is stored is what was checked: gateways load the stored policy at their next
		// reload.
		enc, err := json.Marshal(&got)
		if err != nil {
			t.Fatal(err)
		}
		s.backend.mu.Lock()
		checked := s.backend.checkedPolicies[r.Key]
		s.backend.mu.Unlock()
		if !bytes.Equal(enc, checked) {
			t.Fatalf("the stored policy differs from the one checked\nbody:    %q\nchecked: %s\nstored:  %s", body, checked, enc)
		}
		if err := policy.Check(&got); err != nil {
			t.Fatalf("the stored policy fails the check the Gateway API makes: %v\nbody: %q", err, body)
		}
	})
}
