//go:build gatehouse_compat

// Package oas is Gatehouse's rendering of Tyk's apidef/oas package: the Tyk OAS document a Go
// plugin gets from ctx.GetOASDefinition. It is written with the standard library only, so that
// every Tyk plugin build has it without fetching a module: OAS embeds T, this package's model
// of the OpenAPI document with the names of kin-openapi's openapi3.T (which Tyk's OAS embeds),
// so doc.Info.Title, doc.Paths.Find(p).Get.OperationID, doc.Servers and doc.Extensions read as
// in Tyk; GetTykExtension gives the x-tyk-api-gateway object as Go types.
//
// What the model leaves out (schemas, request bodies, responses, callbacks, examples, links,
// kin-openapi's loader, validation and router) does not compile: a plugin that names it is
// refused by the compiler with the name.
package oas

import (
	"encoding/json"
)

// The names of Tyk's OpenAPI extensions, the name of an OAS API's only version and the OpenAPI
// version Tyk writes.
const (
	ExtensionTykAPIGateway = "x-tyk-api-gateway"
	ExtensionTykStreaming  = "x-tyk-streaming"
	Main                   = ""
	DefaultOpenAPI         = "3.0.6"
)

// OAS is a Tyk OAS API definition: an OpenAPI 3 document whose x-tyk-api-gateway extension says
// how the gateway serves it. As Tyk's, it embeds the document (T), so its fields are read
// directly: doc.OpenAPI, doc.Info, doc.Paths, doc.Servers, doc.Components, doc.Extensions.
type OAS struct {
	T
}

// GetTykExtension returns the document's x-tyk-api-gateway object, or nil when it has none (or
// o is nil). A decoded document holds it as *XTykAPIGateway, so calls return the same value and
// changes to it are seen by later calls; any other value set in Extensions is decoded once into
// the Go types of this package (fields they do not model are not kept).
func (o *OAS) GetTykExtension() *XTykAPIGateway {
	if o == nil || o.Extensions == nil {
		return nil
	}
	v, ok := o.Extensions[ExtensionTykAPIGateway]
	if !ok || v == nil {
		return nil
	}
	if x, ok := v.(*XTykAPIGateway); ok {
		return x
	}
	var raw []byte
	switch v := v.(type) {
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil
		}
	}
	var x XTykAPIGateway
	if err := json.Unmarshal(raw, &x); err != nil {
		return nil
	}
	o.Extensions[ExtensionTykAPIGateway] = &x
	return &x
}

// SetTykExtension sets the document's x-tyk-api-gateway object.
func (o *OAS) SetTykExtension(x *XTykAPIGateway) {
	if o.Extensions == nil {
		o.Extensions = make(map[string]any)
	}
	o.Extensions[ExtensionTykAPIGateway] = x
}

// RemoveTykExtension removes the document's x-tyk-api-gateway object.
func (o *OAS) RemoveTykExtension() {
	if o != nil && o.Extensions != nil {
		delete(o.Extensions, ExtensionTykAPIGateway)
	}
}

// GetTykMiddleware returns the extension's middleware section, or nil when the document (or
// its extension) has none.
func (o *OAS) GetTykMiddleware() *Middleware {
	if x := o.GetTykExtension(); x != nil {
		return x.Middleware
	}
	return nil
}

// Clone returns a deep copy of the document, through its JSON form: what the model does not
// hold is not in the copy either.
func (o *OAS) Clone() (*OAS, error) {
	if o == nil {
		return nil, nil
	}
	data, err := json.Marshal(&o.T)
	if err != nil {
		return nil, err
	}
	var c OAS
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}
