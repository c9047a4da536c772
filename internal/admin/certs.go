package admin

import (
	"crypto/x509/pkix"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/certstore"
)

// The certificate store's endpoints, in Tyk's shapes: POST /tyk/certs?org_id= adds the PEM
// body, GET /tyk/certs[?org_id=][&mode=detailed] lists, GET /tyk/certs/{id[,id...]} describes,
// DELETE /tyk/certs/{id} removes. A change reloads every gateway sharing the store, so the APIs
// naming the certificate take it (or lose it) at once.

// maxCertIDs bounds the ids one GET describes.
const maxCertIDs = 100

// certMeta describes a certificate, as Tyk's GET /tyk/certs/{id}.
type certMeta struct {
	ID            string    `json:"id"`
	Fingerprint   string    `json:"fingerprint"`
	HasPrivateKey bool      `json:"has_private"`
	Issuer        pkix.Name `json:"issuer,omitempty"`
	Subject       pkix.Name `json:"subject,omitempty"`
	NotBefore     time.Time `json:"not_before,omitempty"`
	NotAfter      time.Time `json:"not_after,omitempty"`
	DNSNames      []string  `json:"dns_names,omitempty"`
	IsCA          bool      `json:"is_ca"`
}

// certBasics is a line of Tyk's GET /tyk/certs?mode=detailed.
type certBasics struct {
	ID            string    `json:"id"`
	IssuerCN      string    `json:"issuer_cn"`
	SubjectCN     string    `json:"subject_cn"`
	DNSNames      []string  `json:"dns_names"`
	HasPrivateKey bool      `json:"has_private"`
	NotBefore     time.Time `json:"not_before"`
	NotAfter      time.Time `json:"not_after"`
	IsCA          bool      `json:"is_ca"`
}

func describeCert(e *certstore.Entry) certMeta {
	m := certMeta{ID: e.ID, Fingerprint: e.Fingerprint(), HasPrivateKey: e.HasPrivateKey}
	if len(e.Chain) == 0 {
		// A public key: named as Tyk names it, having no certificate.
		m.Subject.CommonName = "Public Key: " + e.Fingerprint()
		return m
	}
	c := e.Chain[0]
	m.Issuer, m.Subject, m.NotBefore, m.NotAfter, m.DNSNames, m.IsCA = c.Issuer, c.Subject, c.NotBefore, c.NotAfter, c.DNSNames, c.IsCA
	return m
}

func (s *Server) certRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /tyk/certs", s.listCerts)
	mux.HandleFunc("GET /tyk/certs/{$}", s.listCerts)
	mux.HandleFunc("POST /tyk/certs", s.addCert)
	mux.HandleFunc("POST /tyk/certs/{$}", s.addCert)
	mux.HandleFunc("GET /tyk/certs/{ids}", s.getCerts)
	mux.HandleFunc("DELETE /tyk/certs/{id}", s.deleteCert)
}

// certStore returns the store, or answers that there is none.
func (s *Server) certStore(w http.ResponseWriter) *certstore.Store {
	if s.o.Certs == nil {
		writeError(w, http.StatusNotImplemented, "this gateway has no certificate store")
	}
	return s.o.Certs
}

func (s *Server) listCerts(w http.ResponseWriter, r *http.Request) {
	cs := s.certStore(w)
	if cs == nil {
		return
	}
	q := r.URL.Query()
	ids, err := cs.IDs(r.Context(), q.Get("org_id"))
	if err != nil {
		s.storeError(w, "listing the certificates", err)
		return
	}
	if q.Get("mode") != "detailed" {
		writeJSON(w, http.StatusOK, struct {
			Certs []string `json:"certs"`
		}{ids})
		return
	}
	out := make([]certBasics, 0, len(ids))
	for _, id := range ids {
		b := certBasics{ID: id}
		e, err := cs.Get(r.Context(), id)
		switch {
		case errors.Is(err, certstore.ErrNotFound):
			continue // removed meanwhile
		case err != nil:
			// Listed by id alone: one entry this gateway cannot read hides none of the others.
			s.o.Logger.Warn("certificate in the store cannot be read", "cert_id", id, "error", err)
		default:
			m := describeCert(e)
			b = certBasics{ID: id, IssuerCN: m.Issuer.CommonName, SubjectCN: m.Subject.CommonName, DNSNames: m.DNSNames,
				HasPrivateKey: m.HasPrivateKey, NotBefore: m.NotBefore, NotAfter: m.NotAfter, IsCA: m.IsCA}
		}
		out = append(out, b)
	}
	writeJSON(w, http.StatusOK, struct {
		Certs []certBasics `json:"certs"`
	}{out})
}

func (s *Server) getCerts(w http.ResponseWriter, r *http.Request) {
	cs := s.certStore(w)
	if cs == nil {
		return
	}
	ids := strings.Split(r.PathValue("ids"), ",")
	if len(ids) > maxCertIDs {
		writeError(w, http.StatusBadRequest, "at most 100 certificate ids at a time")
		return
	}
	metas := make([]*certMeta, len(ids))
	for i, id := range ids {
		e, err := cs.Get(r.Context(), id)
		if errors.Is(err, certstore.ErrNotFound) {
			continue
		}
		if err != nil {
			s.storeError(w, "reading certificate "+id, err)
			return
		}
		m := describeCert(e)
		metas[i] = &m
	}
	if len(ids) > 1 {
		writeJSON(w, http.StatusOK, metas)
		return
	}
	if metas[0] == nil {
		writeError(w, http.StatusNotFound, "Certificate with given SHA256 fingerprint not found")
		return
	}
	writeJSON(w, http.StatusOK, metas[0])
}

func (s *Server) addCert(w http.ResponseWriter, r *http.Request) {
	cs := s.certStore(w)
	if cs == nil {
		return
	}
	body, ok := readBody(w, r, certstore.MaxEntry, "certificate")
	if !ok {
		return
	}
	id, err := cs.Add(r.Context(), body, r.URL.Query().Get("org_id"))
	switch {
	case errors.Is(err, certstore.ErrInvalid), errors.Is(err, certstore.ErrExists):
		// 403, as Tyk answers every refused certificate.
		writeError(w, http.StatusForbidden, err.Error())
		return
	case err != nil:
		s.storeError(w, "storing the certificate", err)
		return
	}
	s.o.Logger.Info("certificate added", "cert_id", id)
	s.certsChanged(r)
	writeJSON(w, http.StatusOK, struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Message string `json:"message"`
	}{id, "ok", "Certificate added"})
}

func (s *Server) deleteCert(w http.ResponseWriter, r *http.Request) {
	cs := s.certStore(w)
	if cs == nil {
		return
	}
	id := r.PathValue("id")
	found, err := cs.Delete(r.Context(), id)
	if err != nil {
		s.storeError(w, "removing certificate "+id, err)
		return
	}
	if found {
		s.o.Logger.Info("certificate removed", "cert_id", id)
	}
	// Even when the store held nothing: an id the gateway's own store did not hold stood for
	// its fingerprint, and from now on does not (certstore.Store.Delete).
	s.certsChanged(r)
	// As Tyk: removed, whether it was there or not.
	writeJSON(w, http.StatusOK, apiError{Status: "ok", Message: "removed"})
}

// certsChanged reloads the gateways sharing the store, so that what names the certificate
// takes the change. The change itself is stored: a failure here is logged, not answered.
func (s *Server) certsChanged(r *http.Request) {
	if err := s.o.Backend.GroupReload(r.Context()); err != nil {
		s.o.Logger.Error("certificate store changed, but the gateways could not all be reloaded: reload them (GET /tyk/reload/group)", "error", err)
	}
}

// storeError answers a store that failed.
func (s *Server) storeError(w http.ResponseWriter, doing string, err error) {
	s.o.Logger.Error("certificate store: "+doing+" failed", "error", err)
	writeError(w, http.StatusInternalServerError, doing+" failed: the store did not answer; try again")
}
