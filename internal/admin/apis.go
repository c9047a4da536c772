package admin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/oas"
)

// ErrInvalid marks a definition the gateway would refuse.
var ErrInvalid = errors.New("invalid API definition")

// ErrOASAPI is Tyk's answer, word for word, to a Classic definition sent over a Tyk OAS API.
var ErrOASAPI = errors.New("this API endpoint only supports Tyk Classic APIs; please use the appropriate Tyk OAS API endpoint")

// ErrConflict marks a definition or policy that clashes with a stored one (same id on create,
// same listen path and domain, one the files hold).
var ErrConflict = errors.New("conflict")

// maxDefinitionSize bounds a definition sent to the Gateway API.
const maxDefinitionSize = 4 << 20

func (s *Server) listAPIs(w http.ResponseWriter, r *http.Request) {
	defs, err := s.o.Backend.APIs(r.Context())
	if err != nil {
		writeServerError(w, err)
		return
	}
	if defs == nil {
		defs = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, defs)
}

func (s *Server) getAPI(w http.ResponseWriter, r *http.Request) {
	def, err := s.o.Backend.API(r.Context(), r.PathValue("id"))
	if errors.Is(err, apistore.ErrNotFound) {
		writeError(w, http.StatusNotFound, "API not found")
		return
	}
	if errors.Is(err, ErrConflict) {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		writeServerError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, def)
}

// readDefinition decodes the request body as a definition, keeping the raw JSON so that fields
// Gatehouse does not know are stored as sent.
func readDefinition(w http.ResponseWriter, r *http.Request) (*apidef.APIDefinition, map[string]json.RawMessage, bool) {
	raw, ok := readBody(w, r, maxDefinitionSize, "definition")
	if !ok {
		return nil, nil, false
	}
	if oas.IsDocument(raw) {
		writeError(w, http.StatusBadRequest, msgOASForClassic)
		return nil, nil, false
	}
	def, err := apistore.Decode(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "the definition is not valid: "+err.Error())
		return nil, nil, false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		writeError(w, http.StatusBadRequest, "the definition must be a JSON object")
		return nil, nil, false
	}
	if err := repeatedField(fields); err != nil {
		writeError(w, http.StatusBadRequest, "the definition is not valid: "+err.Error())
		return nil, nil, false
	}
	return def, fields, true
}

func (s *Server) createAPI(w http.ResponseWriter, r *http.Request) {
	def, fields, ok := readDefinition(w, r)
	if !ok {
		return
	}
	if def.APIID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		def.APIID = hex.EncodeToString(b[:])
	}
	s.saveAPI(w, r, def, fields, true)
}

func (s *Server) updateAPI(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	def, fields, ok := readDefinition(w, r)
	if !ok {
		return
	}
	if def.APIID != "" && def.APIID != id {
		writeError(w, http.StatusBadRequest, "the definition's api_id "+def.APIID+" differs from the id in the path "+id)
		return
	}
	def.APIID = id
	s.saveAPI(w, r, def, fields, false)
}

func (s *Server) saveAPI(w http.ResponseWriter, r *http.Request, def *apidef.APIDefinition, fields map[string]json.RawMessage, create bool) {
	id, _ := json.Marshal(def.APIID)
	fields["api_id"] = id
	raw, err := encodeFields(fields)
	if err != nil {
		writeServerError(w, err)
		return
	}
	err = s.o.Backend.SaveAPI(r.Context(), def, raw, create)
	switch {
	case errors.Is(err, ErrOASAPI):
		writeError(w, http.StatusBadRequest, ErrOASAPI.Error())
		return
	case errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, apistore.ErrNotFound):
		writeError(w, http.StatusNotFound, "API not found")
		return
	case err != nil:
		writeServerError(w, err)
		return
	}
	action := "modified"
	if create {
		action = "added"
	}
	writeJSON(w, http.StatusOK, apiStatus{Key: def.APIID, Status: "ok", Action: action})
}

func (s *Server) deleteAPI(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := s.o.Backend.DeleteAPI(r.Context(), id)
	if errors.Is(err, apistore.ErrNotFound) {
		writeError(w, http.StatusNotFound, "API not found")
		return
	}
	if errors.Is(err, ErrConflict) {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		writeServerError(w, err)
		return
	}
	s.unlinkVersion(r.Context(), id)
	writeJSON(w, http.StatusOK, apiStatus{Key: id, Status: "ok", Action: "deleted"})
}
