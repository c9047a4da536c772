package admin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/jsonerr"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// ErrReadOnly marks a write this gateway cannot make, with the reason and what to do instead.
var ErrReadOnly = errors.New("read-only")

// maxPolicySize bounds a policy sent to the Gateway API.
const maxPolicySize = 1 << 20

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) {
	pols, err := s.o.Backend.Policies(r.Context())
	if err != nil {
		writeServerError(w, err)
		return
	}
	if pols == nil {
		pols = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, pols)
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) {
	pols, err := s.o.Backend.Policies(r.Context())
	if err != nil {
		writeServerError(w, err)
		return
	}
	id := r.PathValue("id")
	for _, raw := range pols {
		var p struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &p) == nil && p.ID == id {
			writeJSON(w, http.StatusOK, raw)
			return
		}
	}
	writeError(w, http.StatusNotFound, "Policy not found")
}

// readPolicy decodes and checks the request body as a policy.
func readPolicy(w http.ResponseWriter, r *http.Request) (*apidef.Policy, []byte, bool) {
	raw, ok := readBody(w, r, maxPolicySize, "policy")
	if !ok {
		return nil, nil, false
	}
	var p apidef.Policy
	if err := json.Unmarshal(raw, &p); err != nil {
		writeError(w, http.StatusBadRequest, "the policy is not valid: "+jsonerr.Describe(raw, err).Error())
		return nil, nil, false
	}
	if err := policy.Check(&p); err != nil {
		writeError(w, http.StatusBadRequest, "the policy is not valid: "+err.Error())
		return nil, nil, false
	}
	return &p, raw, true
}

// validPolicyID reports what is wrong with a policy id, or "".
func validPolicyID(id string) string {
	if err := apidef.ValidateAPIID(id); err != nil {
		return strings.Replace(err.Error(), "api_id", "policy id", 1)
	}
	return ""
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request) {
	p, raw, ok := readPolicy(w, r)
	if !ok {
		return
	}
	if p.ID == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		p.ID = hex.EncodeToString(b[:])
	}
	s.savePolicy(w, r, p, raw, true)
}

func (s *Server) updatePolicy(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, raw, ok := readPolicy(w, r)
	if !ok {
		return
	}
	if p.ID != "" && p.ID != id {
		writeError(w, http.StatusBadRequest, "the policy's id "+p.ID+" differs from the id in the path "+id)
		return
	}
	p.ID = id
	s.savePolicy(w, r, p, raw, false)
}

func (s *Server) savePolicy(w http.ResponseWriter, r *http.Request, p *apidef.Policy, raw []byte, create bool) {
	if msg := validPolicyID(p.ID); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if msg := otherAPIID(p.AccessRights); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	// Stored with the id it is known by, whatever the body said of it.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		writeError(w, http.StatusBadRequest, "the policy must be a JSON object")
		return
	}
	if err := repeatedField(fields); err != nil {
		writeError(w, http.StatusBadRequest, "the policy is not valid: "+err.Error())
		return
	}
	fields["id"], _ = json.Marshal(p.ID)
	raw, err := encodeFields(fields)
	if err != nil {
		writeServerError(w, err)
		return
	}
	if !s.policyWrite(w, s.o.Backend.SavePolicy(r.Context(), p, raw, create)) {
		return
	}
	action := "modified"
	if create {
		action = "added"
	}
	writeJSON(w, http.StatusOK, apiStatus{Key: p.ID, Status: "ok", Action: action})
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.policyWrite(w, s.o.Backend.DeletePolicy(r.Context(), id)) {
		return
	}
	writeJSON(w, http.StatusOK, apiStatus{Key: id, Status: "ok", Action: "deleted"})
}

// policyWrite answers a failed policy write and reports whether it succeeded.
func (s *Server) policyWrite(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrReadOnly), errors.Is(err, ErrConflict):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, apistore.ErrNotFound):
		writeError(w, http.StatusNotFound, "Policy not found")
	default:
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("storing the policy: %v", err))
	}
	return false
}

// startTrial gives a key being created the expiry its policies' key_expires_in sets, as Tyk
// does for a key created through its Gateway API (a "trial" key): over any expires the key was
// sent with, never to a key written over.
func startTrial(b Backend, sess *apidef.SessionState) {
	if exp := b.KeyExpiry(sess.PolicyIDs(), time.Now()); exp > 0 {
		sess.Expires = exp
	}
}
