package gateway

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/oas"
)

// OASDocuments returns the OpenAPI documents of the stored Tyk OAS APIs (app_path, then with
// Redis those the fleet shares that no file here overrides), as stored.
func (g *Gateway) OASDocuments(ctx context.Context) ([]json.RawMessage, error) {
	entries, err := g.storedAPIs(ctx)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, e := range entries {
		if e.Err == nil && e.OAS != nil {
			out = append(out, json.RawMessage(e.OAS.Raw))
		}
	}
	return out, nil
}

// OASDocument returns the OpenAPI document of the stored API id: apistore.ErrNotFound when
// there is none, admin.ErrClassicAPI when it is a Classic API.
func (g *Gateway) OASDocument(ctx context.Context, id string) (json.RawMessage, error) {
	entries, err := g.storedAPIs(ctx)
	if err != nil {
		return nil, err
	}
	e, ok, err := apistore.FindOne(entries, id)
	if err != nil {
		return nil, storeRefusal(err)
	}
	if !ok {
		e, ok = apistore.Find(entries, id) // one stored in Redis
	}
	switch {
	case !ok:
		return nil, apistore.ErrNotFound
	case !isOAS(e):
		return nil, admin.ErrClassicAPI
	case e.OAS == nil:
		return nil, fmt.Errorf("the OAS document of API %q cannot be read: %v", id, e.OASErr)
	}
	return json.RawMessage(e.OAS.Raw), nil
}

// SaveOAS checks a Tyk OAS API as a reload would (without loading its plugins) and stores it:
// in app_path as Tyk's pair of files, or with Redis the document itself in Redis for the whole
// fleet. create and the errors are as for SaveAPI; a Classic API with the same id is not
// replaced (admin.ErrClassicAPI). Like Tyk, it does not reload.
func (g *Gateway) SaveOAS(ctx context.Context, doc *oas.Document, create bool) error {
	def, err := doc.Classic()
	if err != nil {
		return fmt.Errorf("%w: %s", admin.ErrInvalid, oneLine(err))
	}
	classic, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		return err
	}
	entry := apistore.NewEntry("", classic, def)
	entry.OAS = doc
	if _, err := g.check(entry); err != nil {
		return fmt.Errorf("%w: %s", admin.ErrInvalid, err)
	}
	if _, err := g.compileWith(def, doc, g.snap.Load().policies, nil); err != nil {
		return fmt.Errorf("%w: %s", admin.ErrInvalid, err)
	}
	if reserved := g.reservedPath(def.Proxy.ListenPath); reserved != "" {
		return fmt.Errorf("%w: listen path %q would be shadowed by %s", admin.ErrConflict, def.Proxy.ListenPath, reserved)
	}
	if g.shared != nil {
		return g.saveShared(ctx, def, doc.Raw, create, func(e apistore.Entry) error {
			if !isOAS(e) {
				return classicTaken(def.APIID, create)
			}
			return nil
		}, "/tyk/apis/oas/")
	}
	_, err = g.apis.SaveOASChecked(def.APIID, classic, doc.Raw, func(stored []apistore.Entry) error {
		e, exists := apistore.Find(stored, def.APIID)
		if !create && !exists {
			return apistore.ErrNotFound
		}
		if exists && !isOAS(e) {
			return classicTaken(def.APIID, create)
		}
		return routeConflict(def, create, append(append([]apistore.Entry(nil), g.extra...), stored...), nil)
	})
	return storeRefusal(err)
}

// classicTaken is the refusal of a Tyk OAS document whose api_id a Classic API has: Tyk's
// answer to a change, and to a creation that the id is taken, with where to change that API.
func classicTaken(id string, create bool) error {
	if create {
		return fmt.Errorf("%w: an API with api_id %q exists, a Tyk Classic one (change it with PUT /tyk/apis/%s, or give this document another id)", admin.ErrConflict, id, id)
	}
	return admin.ErrClassicAPI
}
