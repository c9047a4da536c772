package admin

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/jsonerr"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/session"
)

// maxClientSize bounds an OAuth client sent to the Gateway API.
const maxClientSize = 64 << 10

// oauthRoutes registers the OAuth client endpoints, Tyk's.
func (s *Server) oauthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /tyk/oauth/clients/create", s.createClient)
	mux.HandleFunc("POST /tyk/oauth/clients/create/{$}", s.createClient)
	mux.HandleFunc("GET /tyk/oauth/clients/{api}", s.listClients)
	mux.HandleFunc("GET /tyk/oauth/clients/{api}/{$}", s.listClients)
	mux.HandleFunc("GET /tyk/oauth/clients/{api}/{client}", s.getClient)
	mux.HandleFunc("PUT /tyk/oauth/clients/{api}/{client}", s.updateClient)
	mux.HandleFunc("DELETE /tyk/oauth/clients/{api}/{client}", s.deleteClient)
	mux.HandleFunc("PUT /tyk/oauth/clients/{api}/{client}/rotate", s.rotateClient)
	mux.HandleFunc("GET /tyk/oauth/clients/{api}/{client}/tokens", s.clientTokens)
	s.oauthTokenRoutes(mux)
}

// oauthAPI reports whether the API id exists and serves OAuth 2.0: 0 when it does, else the
// refusal's status and message (Tyk's): 404 for no API, 400 for one without OAuth, 500 when the
// definitions cannot be read.
func (s *Server) oauthAPI(r *http.Request, id string) (int, string) {
	raw, err := s.o.Backend.API(r.Context(), id)
	switch {
	case errors.Is(err, apistore.ErrNotFound):
		return http.StatusNotFound, "API doesn't exist"
	case err != nil:
		return http.StatusInternalServerError, err.Error()
	}
	var def apidef.APIDefinition
	if err := json.Unmarshal(raw, &def); err != nil || !def.UseOauth2 || def.UseKeylessAccess {
		return http.StatusBadRequest, "API is not OAuth2"
	}
	return 0, ""
}

// apiThere answers the request with oauthAPI's refusal when the API id does not exist or cannot
// be read (notFound is the message for no API), and reports whether it may go on: an API
// without OAuth has no clients, which is no error.
func (s *Server) apiThere(w http.ResponseWriter, r *http.Request, id, notFound string) bool {
	code, msg := s.oauthAPI(r, id)
	switch code {
	case http.StatusNotFound:
		writeError(w, code, notFound)
		return false
	case http.StatusInternalServerError:
		writeError(w, code, msg)
		return false
	}
	return true
}

// clients is the store of OAuth clients and their tokens.
func (s *Server) clients() oauth.Store { return oauth.Store{KV: s.o.Store} }

// checkClientPolicy refuses a policy that is not loaded or does not grant the API.
func (s *Server) checkClientPolicy(apiID, policyID string) (int, string) {
	if policyID == "" {
		return 0, ""
	}
	if !s.o.Backend.PolicyExists(policyID) {
		return http.StatusBadRequest, "Policy doesn't exist"
	}
	if !slices.Contains(s.o.Backend.PolicyAPIs([]string{policyID}), apiID) {
		return http.StatusBadRequest, "Policy access rights doesn't contain API this OAuth client belongs to"
	}
	return 0, ""
}

func (s *Server) readClient(w http.ResponseWriter, r *http.Request) (*oauth.Client, bool) {
	raw, ok := readBody(w, r, maxClientSize, "client")
	if !ok {
		return nil, false
	}
	var c oauth.Client
	if err := json.Unmarshal(raw, &c); err != nil {
		writeError(w, http.StatusBadRequest, "the client is not valid: "+jsonerr.Describe(raw, err).Error())
		return nil, false
	}
	if len(c.MetaData) > 0 && string(c.MetaData) != "null" {
		var m map[string]any
		if json.Unmarshal(c.MetaData, &m) != nil {
			writeError(w, http.StatusBadRequest, "the client is not valid: meta_data must be an object")
			return nil, false
		}
	}
	if err := oauth.ValidateRedirectURIs(c.RedirectURI, s.o.OAuthRedirectSeparator); err != nil {
		writeError(w, http.StatusBadRequest, "the client is not valid: "+err.Error())
		return nil, false
	}
	return &c, true
}

// newSecret is a client secret, Tyk's shape: base64 of a random UUID.
func newSecret() string {
	return base64.StdEncoding.EncodeToString([]byte(newUUID(true)))
}

// newUUID is a random (version 4) UUID, with or without its dashes.
func newUUID(dashes bool) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	if !dashes {
		return h
	}
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// createClient registers a client on its api_id, or, without one, on every OAuth API its
// policy grants (as Tyk does).
func (s *Server) createClient(w http.ResponseWriter, r *http.Request) {
	c, ok := s.readClient(w, r)
	if !ok {
		return
	}
	if c.ClientID == "" {
		c.ClientID = newUUID(false)
	} else if err := oauth.ValidateClientID(c.ClientID); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if c.Secret == "" {
		c.Secret = newSecret()
	}
	var apis []string
	if c.APIID != "" {
		if code, msg := s.oauthAPI(r, c.APIID); code != 0 {
			if code == http.StatusNotFound {
				code = http.StatusBadRequest // Tyk's status here
			}
			writeError(w, code, msg)
			return
		}
		if code, msg := s.checkClientPolicy(c.APIID, c.PolicyID); code != 0 {
			writeError(w, code, msg)
			return
		}
		apis = []string{c.APIID}
	} else {
		if c.PolicyID == "" || !s.o.Backend.PolicyExists(c.PolicyID) {
			writeError(w, http.StatusBadRequest, "Policy doesn't exist")
			return
		}
		for _, id := range s.o.Backend.PolicyAPIs([]string{c.PolicyID}) {
			if code, _ := s.oauthAPI(r, id); code == 0 {
				apis = append(apis, id)
			}
		}
		if len(apis) == 0 {
			writeError(w, http.StatusBadRequest, "API is not OAuth2")
			return
		}
	}
	store := s.clients()
	for _, id := range apis {
		one := *c
		one.APIID = id
		if err := store.PutClient(r.Context(), &one); err != nil {
			writeError(w, http.StatusInternalServerError, "Failure in storing client data.")
			return
		}
	}
	out := *c
	out.APIID = ""
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	api := r.PathValue("api")
	if !s.apiThere(w, r, api, "OAuth client not found") {
		return
	}
	clients, err := s.clients().Clients(r.Context(), api)
	if err != nil {
		writeServerError(w, err)
		return
	}
	out := make([]oauth.Client, len(clients))
	for i, c := range clients {
		out[i] = *c
		out[i].APIID = ""
	}
	slices.SortFunc(out, func(a, b oauth.Client) int { return strings.Compare(a.ClientID, b.ClientID) })
	writeJSON(w, http.StatusOK, out)
}

// client finds the client the path names, answering the refusal when there is none.
func (s *Server) client(w http.ResponseWriter, r *http.Request) (*oauth.Client, bool) {
	api := r.PathValue("api")
	if !s.apiThere(w, r, api, "API doesn't exist") {
		return nil, false
	}
	c, err := s.clients().Client(r.Context(), api, r.PathValue("client"))
	switch {
	case errors.Is(err, oauth.ErrNotFound):
		writeError(w, http.StatusNotFound, "OAuth Client ID not found")
		return nil, false
	case err != nil:
		writeServerError(w, err)
		return nil, false
	}
	return c, true
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request) {
	c, ok := s.client(w, r)
	if !ok {
		return
	}
	c.APIID = ""
	writeJSON(w, http.StatusOK, c)
}

// updateClient changes a client's redirect_uri, policy_id, meta_data and description; its id
// and secret stay.
func (s *Server) updateClient(w http.ResponseWriter, r *http.Request) {
	c, ok := s.client(w, r)
	if !ok {
		return
	}
	in, ok := s.readClient(w, r)
	if !ok {
		return
	}
	if code, msg := s.checkClientPolicy(c.APIID, in.PolicyID); code != 0 {
		if msg == "Policy doesn't exist" {
			code = http.StatusNotFound // Tyk's status here
		}
		writeError(w, code, msg)
		return
	}
	oldPolicy := c.PolicyID
	c.RedirectURI, c.PolicyID, c.MetaData, c.Description = in.RedirectURI, in.PolicyID, in.MetaData, in.Description
	store := s.clients()
	if !s.updateClientIn(w, r, store, c) {
		return
	}
	// As in Tyk, the access tokens of the old policy go: the client's next ones (a refresh
	// token's too) get the new one.
	if oldPolicy != "" && oldPolicy != c.PolicyID {
		if err := store.RevokeTokens(r.Context(), s.o.Sessions, c.APIID, c.ClientID, false); err != nil {
			writeError(w, http.StatusInternalServerError, "the client was changed, but its tokens of the old policy could not all be revoked: "+err.Error())
			return
		}
	}
	c.APIID = ""
	writeJSON(w, http.StatusOK, c)
}

// rotateClient gives a client a new secret.
func (s *Server) rotateClient(w http.ResponseWriter, r *http.Request) {
	c, ok := s.client(w, r)
	if !ok {
		return
	}
	c.Secret = newSecret()
	if !s.updateClientIn(w, r, s.clients(), c) {
		return
	}
	c.APIID = ""
	writeJSON(w, http.StatusOK, c)
}

// updateClientIn stores c, changed since the request read it, unless the client changed or went
// meanwhile (oauth.Store.UpdateClient), answering the refusal then: a secret rotation, a policy
// change or a deletion made meanwhile is never undone.
func (s *Server) updateClientIn(w http.ResponseWriter, r *http.Request, store oauth.Store, c *oauth.Client) bool {
	switch err := store.UpdateClient(r.Context(), c); {
	case errors.Is(err, oauth.ErrNotFound):
		writeError(w, http.StatusNotFound, "OAuth Client ID not found")
	case errors.Is(err, oauth.ErrChanged):
		writeError(w, http.StatusConflict, "the client changed while this request ran (another update, or a secret rotation): read it again and retry; nothing was changed")
	case err != nil:
		writeError(w, http.StatusInternalServerError, "Failure in storing client data.")
	default:
		return true
	}
	return false
}

// deleteClient removes a client and the tokens issued to it. Its tokens are revoked even when
// the client is gone already (404): a delete whose revocation failed is retried so.
func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request) {
	api, id := r.PathValue("api"), r.PathValue("client")
	if !s.apiThere(w, r, api, "API doesn't exist") {
		return
	}
	// Deleted first, so that no token is issued to it while its tokens are revoked. Its tokens
	// and codes go with it (Tyk leaves them to the bearer check, which other APIs' key checks
	// do not make): a client made again under the same id does not bring them back.
	store := s.clients()
	existed, err := store.DeleteClient(r.Context(), api, id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Delete failed")
		return
	}
	if oauth.ValidateClientID(id) == nil {
		if err := store.RevokeTokens(r.Context(), s.o.Sessions, api, id, true); err != nil {
			writeError(w, http.StatusInternalServerError, "the client was deleted, but revoking its tokens failed (they are refused on its API; "+
				"delete it again to retry): "+err.Error())
			return
		}
	}
	if !existed {
		writeError(w, http.StatusNotFound, "OAuth Client ID not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"key": id, "status": "ok", "action": "deleted"})
}

// clientTokens lists the unexpired access tokens of a client, Tyk's way: {"code": the key's
// hash (its id when keys are not hashed), "expires"}.
func (s *Server) clientTokens(w http.ResponseWriter, r *http.Request) {
	c, ok := s.client(w, r)
	if !ok {
		return
	}
	tokens, err := s.clients().Tokens(r.Context(), c.APIID, c.ClientID)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Get client tokens failed")
		return
	}
	// Only those whose key is still there: one deleted through /tyk/keys is gone.
	live := tokens[:0]
	for _, t := range tokens {
		_, err := s.o.Sessions.Get(r.Context(), session.ID{Key: t.ID, Hashed: s.o.Sessions.HashKeys()})
		switch {
		case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrBadID):
			continue
		case err != nil:
			writeError(w, http.StatusInternalServerError, "Get client tokens failed")
			return
		}
		live = append(live, t)
	}
	slices.SortFunc(live, func(a, b oauth.Token) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, live)
}
