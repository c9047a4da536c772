package apidef

import "encoding/json"

// OASDefinition is a Tyk OAS API definition as a plugin sees it: the OpenAPI 3 document, with
// Tyk's x-tyk-api-gateway extension, that the API was loaded from. Each call to
// sdk.GetOASDefinition returns a fresh one: changing it changes nothing in the gateway.
type OASDefinition struct {
	// Raw is the document as the gateway read it.
	Raw json.RawMessage
	// Doc is Raw decoded by encoding/json: objects are map[string]interface{}, arrays
	// []interface{}, numbers float64.
	Doc map[string]interface{}
}

// TykExtension returns the document's x-tyk-api-gateway object, or nil. Tyk keeps a plugin's
// configuration at middleware.global.pluginConfig.data.value inside it (also given, for every
// API, by the definition's ConfigData).
func (o *OASDefinition) TykExtension() map[string]interface{} {
	if o == nil {
		return nil
	}
	ext, _ := o.Doc["x-tyk-api-gateway"].(map[string]interface{})
	return ext
}
