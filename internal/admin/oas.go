package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/middleware/validate"
	"github.com/gatehouse/gatehouse/internal/oas"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// Tyk's messages for the OAS endpoints (tyk:apidef/api_definitions.go, gateway/api.go).
const (
	msgOASForClassic        = "the supplied API definition is in OAS format, please use the Tyk classic format for this API"
	msgClassicForOAS        = "the requested API definition is in Tyk classic format, please use old api endpoint"
	msgImportWithExtension  = "the import payload should not contain x-tyk-api-gateway"
	msgPayloadNoExtension   = "the payload should contain x-tyk-api-gateway"
	msgRequestMalformed     = "request malformed"
	msgIDMismatch           = "Request APIID does not match that in Definition! For Update operations these must match."
	msgNoServersForImport   = "The ‘servers’ object is empty in your OAS. You can either add a ‘servers’ section to your OpenAPI description or provide a Custom Upstream URL using the ‘upstreamURL’ query parameter."
	contentDispositionValue = "attachment; filename="
)

// ErrClassicAPI is returned for a Tyk OAS request about a Classic API.
var ErrClassicAPI = errors.New(msgClassicForOAS)

func (s *Server) oasRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /tyk/apis/oas", s.listOAS)
	mux.HandleFunc("GET /tyk/apis/oas/{$}", s.listOAS)
	mux.HandleFunc("POST /tyk/apis/oas", s.createOAS)
	mux.HandleFunc("POST /tyk/apis/oas/{$}", s.createOAS)
	mux.HandleFunc("POST /tyk/apis/oas/import", s.importOAS)
	mux.HandleFunc("GET /tyk/apis/oas/export", s.exportAllOAS)
	mux.HandleFunc("GET /tyk/apis/oas/{id}", s.getOAS)
	mux.HandleFunc("PUT /tyk/apis/oas/{id}", s.updateOAS)
	mux.HandleFunc("PATCH /tyk/apis/oas/{id}", s.patchOAS)
	mux.HandleFunc("DELETE /tyk/apis/oas/{id}", s.deleteOAS)
	mux.HandleFunc("GET /tyk/apis/oas/{id}/export", s.exportOAS)
	mux.HandleFunc("GET /tyk/apis/oas/{id}/versions", s.oasVersions)
}

func (s *Server) listOAS(w http.ResponseWriter, r *http.Request) {
	docs, err := s.o.Backend.OASDocuments(r.Context())
	if err != nil {
		writeServerError(w, err)
		return
	}
	if docs == nil {
		docs = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, docs)
}

// oasDocument answers the errors of looking an OAS API up, and returns its document.
func (s *Server) oasDocument(w http.ResponseWriter, r *http.Request, id string) (json.RawMessage, bool) {
	doc, err := s.o.Backend.OASDocument(r.Context(), id)
	switch {
	case errors.Is(err, apistore.ErrNotFound):
		writeError(w, http.StatusNotFound, "API not found")
		return nil, false
	case errors.Is(err, ErrClassicAPI):
		writeError(w, http.StatusBadRequest, msgClassicForOAS)
		return nil, false
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
		return nil, false
	case err != nil:
		writeServerError(w, err)
		return nil, false
	}
	return doc, true
}

func (s *Server) getOAS(w http.ResponseWriter, r *http.Request) {
	if doc, ok := s.oasDocument(w, r, r.PathValue("id")); ok {
		writeJSON(w, http.StatusOK, doc)
	}
}

// exportOAS answers GET /tyk/apis/oas/{id}/export: the document as a download, without the
// extension with mode=public.
func (s *Server) exportOAS(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	doc, ok := s.oasDocument(w, r, id)
	if !ok {
		return
	}
	if r.URL.Query().Get("mode") == "public" {
		doc = withoutExtension(doc)
	}
	w.Header().Set("Content-Disposition", contentDispositionValue+`"`+id+`.json"`)
	writeJSON(w, http.StatusOK, doc)
}

// exportAllOAS answers GET /tyk/apis/oas/export: every OAS API's document, as a download.
func (s *Server) exportAllOAS(w http.ResponseWriter, r *http.Request) {
	docs, err := s.o.Backend.OASDocuments(r.Context())
	if err != nil {
		writeServerError(w, err)
		return
	}
	out := make([]json.RawMessage, 0, len(docs))
	for _, d := range docs {
		if r.URL.Query().Get("mode") == "public" {
			d = withoutExtension(d)
		}
		out = append(out, d)
	}
	w.Header().Set("Content-Disposition", contentDispositionValue+`"apis.json"`)
	writeJSON(w, http.StatusOK, out)
}

// withoutExtension returns doc without x-tyk-api-gateway.
func withoutExtension(doc json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(doc, &fields) != nil {
		return doc
	}
	delete(fields, oas.ExtensionKey)
	out, err := json.Marshal(fields)
	if err != nil {
		return doc
	}
	return out
}

// oasVersions answers GET /tyk/apis/oas/{id}/versions, as Tyk: the API, then for a base API
// (info.versioning) the APIs serving its versions, by version name. An API not stored is left
// out. isDefaultVersion marks the one a request naming no version gets. searchText (in the
// version name, or the API's name for an API without versions) and accessType filter the list.
func (s *Server) oasVersions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	raw, ok := s.oasDocument(w, r, id)
	if !ok {
		return
	}
	type meta struct {
		ID               string `json:"id"`
		Name             string `json:"name"`
		VersionName      string `json:"versionName"`
		Internal         bool   `json:"internal"`
		ExpirationDate   string `json:"expirationDate"`
		IsDefaultVersion bool   `json:"isDefaultVersion"`
	}
	reply := struct {
		Status string `json:"status"`
		APIs   []meta `json:"apis"`
	}{Status: "success", APIs: []meta{}}
	doc, err := oas.Parse(raw)
	if err != nil {
		writeJSON(w, http.StatusOK, reply)
		return
	}
	q := r.URL.Query()
	search, access := strings.ToLower(q.Get("searchText")), q.Get("accessType")
	add := func(m meta, searched string) {
		if strings.Contains(strings.ToLower(searched), search) && (access == "" || (access == "internal") == m.Internal) {
			reply.APIs = append(reply.APIs, m)
		}
	}
	info := doc.Ext.Info
	vs := info.Versioning
	if vs == nil || !vs.Enabled {
		add(meta{ID: id, Name: info.Name, Internal: info.State.Internal, ExpirationDate: info.Expiration, IsDefaultVersion: true}, info.Name)
		writeJSON(w, http.StatusOK, reply)
		return
	}
	def := vs.Default
	if def == apidef.SelfVersion {
		def = vs.Name
	}
	add(meta{ID: id, Name: info.Name, VersionName: vs.Name, Internal: info.State.Internal, ExpirationDate: info.Expiration,
		IsDefaultVersion: def == vs.Name}, vs.Name)
	children := map[string]string{}
	for _, v := range vs.Versions {
		children[v.Name] = v.ID // the last of a name listed twice, as Tyk reads the list
	}
	// The stored definitions are read once, whatever the number of versions.
	stored := map[string]*apidef.APIDefinition{}
	if len(children) > 0 {
		all, err := s.o.Backend.APIs(r.Context())
		if err != nil {
			writeServerError(w, err)
			return
		}
		for _, raw := range all {
			var d apidef.APIDefinition
			if json.Unmarshal(raw, &d) == nil && d.APIID != "" {
				stored[d.APIID] = &d
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(children)) {
		if child := stored[children[name]]; child != nil {
			add(meta{ID: child.APIID, Name: child.Name, VersionName: name, Internal: child.Internal,
				ExpirationDate: child.Expiration, IsDefaultVersion: def == name}, name)
		}
	}
	writeJSON(w, http.StatusOK, reply)
}

// readOAS reads a Tyk OAS request body and checks it in Tyk's order: it decodes (else
// "request malformed"); an import has no extension; a create or update has one; the document
// is valid (Gatehouse's reading of the extension, then kin-openapi's validation). It returns the
// body as a JSON object.
func readOAS(w http.ResponseWriter, r *http.Request, mode string) (map[string]json.RawMessage, bool) {
	raw, ok := readBody(w, r, maxDefinitionSize, "OAS document")
	if !ok {
		return nil, false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		writeError(w, http.StatusBadRequest, msgRequestMalformed)
		return nil, false
	}
	ext, hasExt := fields[oas.ExtensionKey]
	if hasExt && strings.TrimSpace(string(ext)) == "null" {
		// A null extension is no extension, as Tyk reads it (a PATCH keeps the stored one).
		delete(fields, oas.ExtensionKey)
		hasExt = false
	}
	switch {
	case mode == "import" && hasExt:
		writeError(w, http.StatusBadRequest, msgImportWithExtension)
		return nil, false
	case (mode == "create" || mode == "update") && !hasExt:
		writeError(w, http.StatusBadRequest, msgPayloadNoExtension)
		return nil, false
	}
	return fields, true
}

// checkOAS validates a complete document (extension included) and parses it.
func checkOAS(w http.ResponseWriter, r *http.Request, fields map[string]json.RawMessage) (*oas.Document, bool) {
	raw, err := encodeFields(fields)
	if err != nil {
		writeServerError(w, err)
		return nil, false
	}
	doc, err := oas.Parse(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	spec, err := validate.Load(raw)
	if err == nil {
		err = spec.Check(r.Context())
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	return doc, true
}

// setExtensionID sets x-tyk-api-gateway.info.id in fields.
func setExtensionID(fields map[string]json.RawMessage, id string) error {
	return setInfo(fields, "id", id)
}

// setInfo sets x-tyk-api-gateway.info.<name> in fields to value.
func setInfo(fields map[string]json.RawMessage, name string, value any) error {
	var ext, info map[string]json.RawMessage
	if err := json.Unmarshal(fields[oas.ExtensionKey], &ext); err != nil {
		return err
	}
	if ext == nil { // null
		ext = map[string]json.RawMessage{}
	}
	if raw, ok := ext["info"]; ok {
		if err := json.Unmarshal(raw, &info); err != nil {
			return err
		}
	}
	if info == nil { // absent or null
		info = map[string]json.RawMessage{}
	}
	var err error
	if info[name], err = json.Marshal(value); err != nil {
		return err
	}
	if ext["info"], err = json.Marshal(info); err != nil {
		return err
	}
	fields[oas.ExtensionKey], err = json.Marshal(ext)
	return err
}

// extensionID returns x-tyk-api-gateway.info.id of fields, "" when unset.
func extensionID(fields map[string]json.RawMessage) string {
	var ext struct {
		Info struct {
			ID string `json:"id"`
		} `json:"info"`
	}
	_ = json.Unmarshal(fields[oas.ExtensionKey], &ext)
	return ext.Info.ID
}

func newAPIID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) createOAS(w http.ResponseWriter, r *http.Request) {
	fields, ok := readOAS(w, r, "create")
	if !ok {
		return
	}
	link, ok := s.readVersionLink(w, r)
	if !ok {
		return
	}
	id := extensionID(fields)
	if id == "" {
		id = newAPIID()
		if err := setExtensionID(fields, id); err != nil {
			writeError(w, http.StatusBadRequest, msgRequestMalformed)
			return
		}
	}
	s.saveOAS(w, r, fields, true, link)
}

func (s *Server) updateOAS(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	fields, ok := readOAS(w, r, "update")
	if !ok {
		return
	}
	if !s.updatable(w, r, id) {
		return
	}
	switch got := extensionID(fields); got {
	case "":
		if err := setExtensionID(fields, id); err != nil {
			writeError(w, http.StatusBadRequest, msgRequestMalformed)
			return
		}
	case id:
	default:
		writeError(w, http.StatusBadRequest, msgIDMismatch)
		return
	}
	s.saveOAS(w, r, fields, false, nil)
}

// updatable answers 404 or Tyk's 400 unless id is a stored OAS API.
func (s *Server) updatable(w http.ResponseWriter, r *http.Request, id string) bool {
	_, ok := s.oasDocument(w, r, id)
	return ok
}

// patchOAS answers PATCH /tyk/apis/oas/{id}: the body's OpenAPI document replaces the stored
// one; without an extension the stored extension is kept, and the import parameters, when
// given, change it as for an import.
func (s *Server) patchOAS(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	fields, ok := readOAS(w, r, "patch")
	if !ok {
		return
	}
	stored, ok := s.oasDocument(w, r, id)
	if !ok {
		return
	}
	if _, has := fields[oas.ExtensionKey]; !has {
		var old map[string]json.RawMessage
		if err := json.Unmarshal(stored, &old); err != nil {
			writeServerError(w, err)
			return
		}
		fields[oas.ExtensionKey] = old[oas.ExtensionKey]
	}
	if hasImportParams(r) {
		if msg := applyImportParams(fields, r, id, false); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
	}
	if got := extensionID(fields); got != "" && got != id {
		writeError(w, http.StatusBadRequest, msgIDMismatch)
		return
	}
	if err := setExtensionID(fields, id); err != nil {
		writeError(w, http.StatusBadRequest, msgRequestMalformed)
		return
	}
	s.saveOAS(w, r, fields, false, nil)
}

func (s *Server) deleteOAS(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.oasDocument(w, r, id); !ok {
		return
	}
	s.deleteAPI(w, r)
}

// importOAS answers POST /tyk/apis/oas/import: a plain OpenAPI document, given Tyk's default
// extension built from the query parameters, is created as a Tyk OAS API.
func (s *Server) importOAS(w http.ResponseWriter, r *http.Request) {
	fields, ok := readOAS(w, r, "import")
	if !ok {
		return
	}
	link, ok := s.readVersionLink(w, r)
	if !ok {
		return
	}
	id := r.URL.Query().Get("apiID")
	if id == "" {
		id = newAPIID()
	}
	if msg := applyImportParams(fields, r, id, true); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	s.saveOAS(w, r, fields, true, link)
}

// saveOAS checks and stores a document; link, when set, then links it as a version of a base
// API.
func (s *Server) saveOAS(w http.ResponseWriter, r *http.Request, fields map[string]json.RawMessage, create bool, link *versionLink) {
	doc, ok := checkOAS(w, r, fields)
	if !ok {
		return
	}
	var base *oas.Document
	if link != nil {
		// The base as it will be, checked before the new API is stored.
		unlock, err := s.lockLinks(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		defer unlock()
		var msg string
		if base, msg = s.linkedBase(r, link, doc.Ext.Info.ID); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
	}
	err := s.o.Backend.SaveOAS(r.Context(), doc, create)
	switch {
	case errors.Is(err, ErrClassicAPI):
		writeError(w, http.StatusBadRequest, msgClassicForOAS)
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
	if base != nil {
		if err := s.o.Backend.SaveOAS(r.Context(), base, false); err != nil {
			// Nothing is left half linked: the new API goes again, even when the client has
			// gone meanwhile (its request's context ended).
			dctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), linksLockTTL)
			derr := s.o.Backend.DeleteAPI(dctx, doc.Ext.Info.ID)
			cancel()
			s.o.Logger.Error("the base API could not be updated, so the new version's API was not kept", "api_id", doc.Ext.Info.ID,
				"base_api_id", link.baseID, "error", err, "delete_error", derr)
			writeError(w, http.StatusInternalServerError, "Failed to update base API")
			return
		}
	}
	action := "modified"
	if create {
		action = "added"
	}
	// What the gateway will log when it loads the API, told to who wrote it: a misspelt field
	// (server.clientCertificate) or an entry for an operation no path has is otherwise silent.
	writeJSON(w, http.StatusOK, apiStatus{Key: doc.Ext.Info.ID, Status: "ok", Action: action, Notes: doc.Notes()})
}

// versionLink is how a create or import links the new API as a version of a base API, from
// Tyk's query parameters base_api_id, base_api_version_name, new_version_name and set_default.
type versionLink struct {
	baseID, baseName, newName string
	setDefault                bool
}

// readVersionLink reads the link parameters and checks them as Tyk does, before anything is
// stored; nil without base_api_id.
func (s *Server) readVersionLink(w http.ResponseWriter, r *http.Request) (*versionLink, bool) {
	q := r.URL.Query()
	l := &versionLink{baseID: q.Get("base_api_id"), baseName: q.Get("base_api_version_name"),
		newName: q.Get("new_version_name"), setDefault: q.Get("set_default") == "true"}
	if l.baseID == "" {
		return nil, true
	}
	if l.newName == "" {
		writeError(w, http.StatusUnprocessableEntity, "The new version name is required")
		return nil, false
	}
	for _, v := range []struct{ param, name string }{{"new_version_name", l.newName}, {"base_api_version_name", l.baseName}} {
		if v.name != "" && !versionToken(v.name) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s %.80q: a version name is 1 to 128 bytes of text without '/', control or format characters, and not . or .. (clients send it in a header, a query parameter or a URL segment)", v.param, v.name))
			return nil, false
		}
	}
	raw, err := s.o.Backend.OASDocument(r.Context(), l.baseID)
	switch {
	case errors.Is(err, ErrClassicAPI):
		writeError(w, http.StatusBadRequest, l.baseID+" is not a valid Base API version: Gatehouse links versions to Tyk OAS base APIs only; "+
			"list the version in the Classic base's definition.versions instead")
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, l.baseID+" is not a valid Base API version")
		return nil, false
	}
	doc, err := oas.Parse(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, l.baseID+" is not a valid Base API version")
		return nil, false
	}
	name := l.baseName
	if vs := doc.Ext.Info.Versioning; name == "" && vs != nil {
		name = vs.Name
	}
	switch {
	case name == "":
		writeError(w, http.StatusBadRequest, "you need to provide a version name for the new Base API: "+l.baseID)
		return nil, false
	case name == l.newName || l.newName == apidef.SelfVersion:
		writeError(w, http.StatusBadRequest, "new_version_name "+strconv.Quote(l.newName)+" is the base API's own version name")
		return nil, false
	}
	return l, true
}

// linkedBase returns the base API's document with the API id added as version l.newName, as
// Tyk links it: versioning on, the base's version name from base_api_version_name when given,
// the default the new version with set_default=true, and empty fields filled (key
// x-api-version, location header, default self). A base that would then be refused, or a
// version name another API already serves, is a message for a 400.
func (s *Server) linkedBase(r *http.Request, l *versionLink, id string) (*oas.Document, string) {
	refused := func(why string) (*oas.Document, string) {
		return nil, "the base API " + l.baseID + " cannot take the version: " + why
	}
	raw, err := s.o.Backend.OASDocument(r.Context(), l.baseID)
	if err != nil {
		return nil, l.baseID + " is not a valid Base API version"
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return refused(err.Error())
	}
	doc, err := oas.Parse(raw)
	if err != nil {
		return refused(err.Error())
	}
	vs := oas.Versioning{}
	if doc.Ext.Info.Versioning != nil {
		vs = *doc.Ext.Info.Versioning
	}
	vs.Enabled = true
	if l.baseName != "" {
		vs.Name = l.baseName
	}
	if l.setDefault {
		vs.Default = l.newName
	}
	if vs.Key == "" {
		vs.Key = "x-api-version"
	}
	if vs.Location == "" {
		vs.Location = "header"
	}
	if vs.Default == "" {
		vs.Default = apidef.SelfVersion
	}
	for _, v := range vs.Versions {
		if v.Name == l.newName && v.ID != id {
			return refused(fmt.Sprintf("its version %q is served by API %q; take it out of the base's versions first", v.Name, v.ID))
		}
	}
	if !slices.ContainsFunc(vs.Versions, func(v oas.VersionRef) bool { return v.Name == l.newName }) {
		vs.Versions = append(vs.Versions, oas.VersionRef{Name: l.newName, ID: id})
	}
	if err := setInfo(fields, "versioning", vs); err != nil {
		return refused(err.Error())
	}
	out, err := encodeFields(fields)
	if err != nil {
		return refused(err.Error())
	}
	base, err := oas.Parse(out)
	if err != nil {
		return refused(err.Error())
	}
	def, err := base.Classic()
	if err == nil {
		err = def.Validate()
	}
	if err != nil {
		return refused(err.Error())
	}
	return base, ""
}

// unlinkVersion takes a deleted API out of the versions of the base APIs that list it, as Tyk
// does: a base whose default it was gets its own version as the default. What cannot be done is
// logged; the delete stands.
func (s *Server) unlinkVersion(ctx context.Context, id string) {
	unlock, err := s.lockLinks(ctx)
	if err != nil {
		s.o.Logger.Error("the deleted API could not be taken out of its base API's versions", "api_id", id, "error", err)
		return
	}
	defer unlock()
	all, err := s.o.Backend.APIs(ctx)
	if err != nil {
		s.o.Logger.Error("the deleted API could not be taken out of its base API's versions", "api_id", id, "error", err)
		return
	}
	quoted, _ := json.Marshal(id)
	for _, raw := range all {
		// Only a definition whose text holds the id as a string can list it: the others (most,
		// with thousands of APIs) are not decoded.
		if !bytes.Contains(raw, quoted) {
			continue
		}
		var def apidef.APIDefinition
		if json.Unmarshal(raw, &def) != nil || def.APIID == id || !slices.Contains(slices.Collect(maps.Values(def.VersionDefinition.APIs().Versions)), id) {
			continue
		}
		if err := s.unlinkFrom(ctx, &def, raw, id); err != nil {
			s.o.Logger.Error("the deleted API could not be taken out of its base API's versions", "api_id", id, "base_api_id", def.APIID, "error", err)
			continue
		}
		s.o.Logger.Info("the deleted API was taken out of its base API's versions", "api_id", id, "base_api_id", def.APIID)
	}
}

// unlinkFrom stores base (stored as raw) without its versions served by id.
func (s *Server) unlinkFrom(ctx context.Context, base *apidef.APIDefinition, raw json.RawMessage, id string) error {
	vd := base.VersionDefinition.APIs()
	keep := func(name string) bool { return vd.Versions[name] != id }
	def := vd.Default
	if def != "" && def != apidef.SelfVersion && !keep(def) {
		def = vd.Name
		if def == "" {
			def = apidef.SelfVersion
		}
	}
	if !base.IsOAS {
		var fields, block map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return err
		}
		if err := json.Unmarshal(fields["definition"], &block); err != nil {
			return err
		}
		versions := maps.Clone(vd.Versions)
		maps.DeleteFunc(versions, func(name, _ string) bool { return !keep(name) })
		var err error
		if block["versions"], err = json.Marshal(versions); err != nil {
			return err
		}
		if block["default"], err = json.Marshal(def); err != nil {
			return err
		}
		if fields["definition"], err = json.Marshal(block); err != nil {
			return err
		}
		out, err := encodeFields(fields)
		if err != nil {
			return err
		}
		var changed apidef.APIDefinition
		if err := json.Unmarshal(out, &changed); err != nil {
			return err
		}
		return s.o.Backend.SaveAPI(ctx, &changed, out, false)
	}
	doc, err := s.o.Backend.OASDocument(ctx, base.APIID)
	if err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(doc, &fields); err != nil {
		return err
	}
	parsed, err := oas.Parse(doc)
	if err != nil {
		return err
	}
	vs := parsed.Ext.Info.Versioning
	if vs == nil {
		return nil
	}
	vs.Versions = slices.DeleteFunc(vs.Versions, func(v oas.VersionRef) bool { return v.ID == id })
	if vs.Default != "" && vs.Default != apidef.SelfVersion && !keep(vs.Default) {
		vs.Default = def
	}
	if err := setInfo(fields, "versioning", vs); err != nil {
		return err
	}
	out, err := encodeFields(fields)
	if err != nil {
		return err
	}
	changed, err := oas.Parse(out)
	if err != nil {
		return err
	}
	return s.o.Backend.SaveOAS(ctx, changed, false)
}

// linksLock is the fleet's lock on version links, and how long one may hold it.
// linksLockTTL outlasts the work done under the lock, two definitions stored each under the
// shared definitions' lock (waited for at most 10 s each): it is never renewed.
const (
	linksLock    = "gatehouse-lock:version-links"
	linksLockTTL = 30 * time.Second
)

// lockLinks serialises linking versions to base APIs, each of which reads, changes and writes
// a base's document: on this gateway (linkMu) and, when the store is shared (storage.Locker),
// across the fleet, so that two gateways linking versions to one base at once keep both.
func (s *Server) lockLinks(ctx context.Context) (func(), error) {
	return storage.LockShared(ctx, s.o.Store, &s.linkMu, linksLock, linksLockTTL, "linking versions")
}

// versionToken reports whether name can name a version wherever clients send it (a header
// value, a query parameter, a URL path segment): 1 to 128 bytes of UTF-8 text without control
// characters or '/', and not a dot segment.
func versionToken(name string) bool {
	if name == "" || len(name) > 128 || name == "." || name == ".." || !utf8.ValidString(name) {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool { return r == '/' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) })
}
