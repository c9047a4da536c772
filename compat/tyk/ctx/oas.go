//go:build gatehouse_compat

package ctx

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse/gatehouse/sdk"

	"github.com/TykTechnologies/tyk/apidef/oas"
)

// GetOASDefinition returns a copy of the Tyk OAS document of the API serving the request, or
// nil for a Classic API (as Tyk) and outside the gateway. Each call decodes a new copy, with
// local $refs to parameters and security schemes resolved: changing it changes nothing in the
// gateway, nor what the next call returns. Its x-tyk-api-gateway extension is
// GetTykExtension(); config data is at GetTykExtension().Middleware.Global.PluginConfig.Data.Value
// (each pointer may be nil).
//
// Unlike Tyk, GetDefinition is not nil for an OAS API either: it is the Classic definition the
// document maps to.
func GetOASDefinition(r *http.Request) *oas.OAS {
	def := sdk.GetOASDefinition(r)
	if def == nil {
		return nil
	}
	var o oas.OAS
	if err := json.Unmarshal(def.Raw, &o); err != nil {
		return nil
	}
	return &o
}
