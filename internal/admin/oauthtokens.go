package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// oauthTokenRoutes registers the Gateway API's OAuth token endpoints, Tyk's: a refresh token
// invalidated, a token or all of a client's revoked, the APIs of a client, lapsed tokens purged.
func (s *Server) oauthTokenRoutes(mux *http.ServeMux) {
	mux.HandleFunc("DELETE /tyk/oauth/refresh/{token}", s.invalidateRefresh)
	mux.HandleFunc("POST /tyk/oauth/revoke", s.adminRevoke)
	mux.HandleFunc("POST /tyk/oauth/revoke/{$}", s.adminRevoke)
	mux.HandleFunc("POST /tyk/oauth/revoke_all", s.adminRevokeAll)
	mux.HandleFunc("POST /tyk/oauth/revoke_all/{$}", s.adminRevokeAll)
	mux.HandleFunc("GET /tyk/oauth/clients/apis/{client}", s.clientAPIs)
	mux.HandleFunc("DELETE /tyk/oauth/tokens", s.purgeTokens)
}

// invalidateRefresh serves DELETE /tyk/oauth/refresh/{token}?api_id=: the refresh token, when
// one of the API's clients was issued it, can no longer be used. Tyk's answers.
func (s *Server) invalidateRefresh(w http.ResponseWriter, r *http.Request) {
	api, token := r.URL.Query().Get("api_id"), r.PathValue("token")
	if api == "" {
		writeError(w, http.StatusBadRequest, "Missing parameter api_id")
		return
	}
	switch code, msg := s.oauthAPI(r, api); code {
	case 0:
	case http.StatusNotFound:
		writeError(w, code, "API for this refresh token not found")
		return
	case http.StatusBadRequest:
		writeError(w, code, "OAuth is not enabled on this API")
		return
	default:
		writeError(w, code, msg)
		return
	}
	if _, err := s.clients().RevokeRefresh(r.Context(), api, "", token); err != nil {
		writeError(w, http.StatusInternalServerError, "Failed to invalidate refresh token")
		return
	}
	writeJSON(w, http.StatusOK, apiStatus{Key: token, Status: "ok", Action: "deleted"})
}

// adminRevoke serves POST /tyk/oauth/revoke (a form: token, token_type_hint, client_id,
// org_id): the token is revoked on every API of the org (every API without one) that has the
// client, when that client was issued it.
func (s *Server) adminRevoke(w http.ResponseWriter, r *http.Request) {
	if !parseSmallForm(w, r) {
		return
	}
	vals, ok := requiredForm(w, r, http.StatusBadRequest, "token", "client_id")
	if !ok {
		return
	}
	token, client, hint := vals[0], vals[1], r.PostFormValue("token_type_hint")
	apis, ok := s.formClients(w, r, client, http.StatusBadRequest)
	if !ok {
		return
	}
	store := s.clients()
	var err error
	for _, c := range apis {
		if hint != "refresh_token" {
			err = errors.Join(err, store.RevokeAccess(r.Context(), s.o.Sessions, c.APIID, client, token))
		}
		if hint != "access_token" {
			_, rerr := store.RevokeRefresh(r.Context(), c.APIID, client, token)
			err = errors.Join(err, rerr)
		}
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "revoking the token failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, apiError{Status: "ok", Message: "token revoked successfully"})
}

// adminRevokeAll serves POST /tyk/oauth/revoke_all (a form: client_id, client_secret, org_id):
// every token the client was issued, on every API of the org that has it, is revoked. The
// secret must be the client's (Tyk answers 200 with a wrong one and revokes nothing).
func (s *Server) adminRevokeAll(w http.ResponseWriter, r *http.Request) {
	if !parseSmallForm(w, r) {
		return
	}
	vals, ok := requiredForm(w, r, http.StatusUnauthorized, "client_id", "client_secret")
	if !ok {
		return
	}
	client, secret := vals[0], vals[1]
	apis, ok := s.formClients(w, r, client, http.StatusNotFound)
	if !ok {
		return
	}
	revoked := false
	for _, c := range apis {
		if subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
			continue // the client of another API, under the same id, with a secret of its own
		}
		if err := s.clients().RevokeTokens(r.Context(), s.o.Sessions, c.APIID, client, true); err != nil {
			writeError(w, http.StatusInternalServerError, "revoking the tokens failed: "+err.Error())
			return
		}
		revoked = true
	}
	if !revoked {
		writeError(w, http.StatusUnauthorized, "client secret is wrong")
		return
	}
	writeJSON(w, http.StatusOK, apiError{Status: "ok", Message: "tokens revoked successfully"})
}

// formClients returns the client clientID of each API of the form's org_id that has it,
// answering the request when it cannot (500) or there is none (noneStatus, Tyk's status for the
// endpoint): it reports whether it did not answer.
func (s *Server) formClients(w http.ResponseWriter, r *http.Request, clientID string, noneStatus int) ([]*oauth.Client, bool) {
	apis, err := s.apisOfClient(r.Context(), clientID, r.PostFormValue("org_id"))
	switch {
	case err != nil:
		writeServerError(w, err)
		return nil, false
	case len(apis) == 0:
		writeError(w, noneStatus, "oauth client doesn't exist")
		return nil, false
	}
	return apis, true
}

// clientAPIs serves GET /tyk/oauth/clients/apis/{client}?orgID=: the ids of the APIs (of the
// org, when not empty) that have the client. As in Tyk, the route needs the orgID parameter,
// empty or not: without it, the path names the client of an API whose id is "apis".
func (s *Server) clientAPIs(w http.ResponseWriter, r *http.Request) {
	if !r.URL.Query().Has("orgID") {
		r.SetPathValue("api", "apis")
		s.getClient(w, r)
		return
	}
	apis, err := s.apisOfClient(r.Context(), r.PathValue("client"), r.URL.Query().Get("orgID"))
	if err != nil {
		writeServerError(w, err)
		return
	}
	ids := make([]string, 0, len(apis))
	for _, c := range apis {
		ids = append(ids, c.APIID)
	}
	writeJSON(w, http.StatusOK, ids)
}

// purgeTokens serves DELETE /tyk/oauth/tokens?scope=lapsed. A client's index of tokens lapses
// entry by entry (each is stored for as long as its token), so there is nothing left to purge.
func (s *Server) purgeTokens(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case !q.Has("scope"):
		writeError(w, http.StatusUnprocessableEntity, "scope parameter is required")
	case len(q["scope"]) != 1 || q.Get("scope") != "lapsed":
		writeError(w, http.StatusBadRequest, "unknown scope")
	default:
		writeJSON(w, http.StatusOK, apiError{Status: "ok", Message: "lapsed tokens purged"})
	}
}

// apisOfClient returns the client clientID of every OAuth API (of the org orgID, when not "")
// that has one, in API id order.
func (s *Server) apisOfClient(ctx context.Context, clientID, orgID string) ([]*oauth.Client, error) {
	if oauth.ValidateClientID(clientID) != nil {
		return nil, nil
	}
	defs, err := s.o.Backend.APIs(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, raw := range defs {
		var head struct {
			APIID     string `json:"api_id"`
			OrgID     string `json:"org_id"`
			UseOauth2 bool   `json:"use_oauth2"`
			Keyless   bool   `json:"use_keyless"`
		}
		if json.Unmarshal(raw, &head) != nil || !head.UseOauth2 || head.Keyless || orgID != "" && head.OrgID != orgID {
			continue
		}
		ids = append(ids, head.APIID)
	}
	slices.Sort(ids)
	store := s.clients()
	var out []*oauth.Client
	for _, id := range slices.Compact(ids) {
		c, err := store.Client(ctx, id, clientID)
		switch {
		case errors.Is(err, oauth.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

// maxFormSize bounds the forms of the OAuth token endpoints.
const maxFormSize = 64 << 10

// parseSmallForm reads a request's form, at most maxFormSize, answering 400 when it cannot.
func parseSmallForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormSize)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "cannot parse form. Form malformed")
		return false
	}
	return true
}

// requiredForm returns the form values named, in order; when one is empty it answers status
// naming the first missing, and false.
func requiredForm(w http.ResponseWriter, r *http.Request, status int, names ...string) ([]string, bool) {
	vals := make([]string, len(names))
	for i, n := range names {
		if vals[i] = r.PostFormValue(n); vals[i] == "" {
			writeError(w, status, n+" is required")
			return nil, false
		}
	}
	return vals, true
}
