package admin

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// Organisations' sessions (Tyk's /tyk/org/keys): the rate limit, quota and state every API of an
// org_id shares when the gateway enforces org quotas (enforce_org_quotas). An org session is a
// key's session; only its rate, per, quota_max, quota_renewal_rate and is_inactive are read.

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request) {
	orgs, err := s.o.Sessions.ListOrgs(r.Context())
	writeKeyList(w, orgs, err)
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	sess, err := s.o.Sessions.GetOrg(r.Context(), org)
	switch {
	case errors.Is(err, session.ErrNotFound):
		writeError(w, http.StatusNotFound, "Org not found")
	case err != nil:
		writeKeyError(w, err)
	default:
		// The quota left and when it renews come from the counters, as for a key: the stored
		// session is not written request by request. Only the org's own quota is counted (its
		// access rights are not read), so they are left as stored.
		own := *sess
		own.AccessRights = nil
		if err := s.fillQuota(r, session.OrgCounterID(org), &own); err != nil {
			writeKeyError(w, err)
			return
		}
		sess.QuotaRemaining, sess.QuotaRenews = own.QuotaRemaining, own.QuotaRenews
		writeJSON(w, http.StatusOK, sess)
	}
}

// putOrg stores an org's session (POST or PUT, as in Tyk); with ?reset_quota=1 the org's quota
// starts afresh.
func (s *Server) putOrg(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	sess, ok := decodeSession(w, r, "org session")
	if !ok {
		return
	}
	if sess.OrgID != "" && sess.OrgID != org {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("the org session's org_id %q is not the org %q it is written for", sess.OrgID, org))
		return
	}
	sess.OrgID = org
	sess.LastUpdated = fmt.Sprint(time.Now().Unix())
	if err := s.o.Sessions.PutOrg(r.Context(), org, sess, 0); err != nil {
		writeKeyError(w, err)
		return
	}
	if r.URL.Query().Get("reset_quota") == "1" {
		if err := s.o.Counters.Reset(r.Context(), session.QuotaCounter(session.OrgCounterID(org), "", false)); err != nil {
			writeKeyError(w, fmt.Errorf("resetting the org's quota: %w", err))
			return
		}
	}
	action := "modified"
	if r.Method == http.MethodPost {
		action = "added"
	}
	s.o.Logger.Info("org session stored", "org_id", org, "action", action)
	writeJSON(w, http.StatusOK, apiStatus{Key: org, Status: "ok", Action: action})
}

func (s *Server) deleteOrg(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	ok, err := s.o.Sessions.DeleteOrg(r.Context(), org)
	switch {
	case err != nil:
		writeKeyError(w, err)
	case !ok:
		writeError(w, http.StatusNotFound, "Org not found")
	default:
		s.o.Logger.Info("org session deleted", "org_id", org)
		writeJSON(w, http.StatusOK, apiStatus{Key: org, Status: "ok", Action: "deleted"})
	}
}
