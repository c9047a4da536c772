//go:build gatehouse_compat

// Package ctx is Gatehouse's rendering of Tyk's ctx package: what a Tyk Go plugin calls to read
// and set the request's session, auth token and API definition. It works through the gateway's
// sdk package; the session is converted between Tyk's user.SessionState and the gateway's on
// each call.
package ctx

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse/gatehouse/sdk"

	"github.com/TykTechnologies/tyk/apidef"
	"github.com/TykTechnologies/tyk/user"
)

// Key names a value Tyk keeps in a request's context. Gatehouse keeps its request state
// elsewhere: r.Context().Value(key) gives nil for every key but ContextData; use the functions
// of this package.
type Key uint

// TykContextKey is the key's number, by which the gateway answers r.Context().Value(ContextData)
// with the request's context variables (a map[string]interface{}, with enable_context_vars).
func (k Key) TykContextKey() uint { return uint(k) }

// The context keys, in Tyk's order (v5.14.0).
const (
	SessionData Key = iota
	// Deprecated: use SetSession's scheduleUpdate.
	UpdateSession
	AuthToken
	HashedAuthToken
	VersionData
	VersionName
	VersionDefault
	OrgSessionContext
	ContextData
	RetainHost
	TrackThisEndpoint
	DoNotTrackThisEndpoint
	UrlRewritePath
	InternalRedirectTarget
	RequestMethod
	OrigRequestURL
	LoopLevel
	LoopLevelLimit
	ThrottleLevel
	ThrottleLevelLimit
	Trace
	CheckLoopLimits
	UrlRewriteTarget
	TransformedRequestMethod
	Definition
	RequestStatus
	GraphQLRequest
	GraphQLIsWebSocketUpgrade
	CacheOptions
	OASDefinition
	SelfLooping
	RequestStartTime
	ErrorClassification
	JsonRPCRouting
	JSONRPCRequest
	JSONRPCRoutingState
	MCPRouting
	OriginalRequestPath
	MCPMethod
	MCPPrimitiveType
	MCPPrimitiveName
	JSONRPCErrorCode
	MatchedIdPBinding
)

// GetSession returns the session of the key that made the request, or nil before auth and on
// keyless APIs (unless a plugin set one). Changes to its maps (meta data) are the request's;
// other changes are kept once passed to SetSession.
func GetSession(r *http.Request) *user.SessionState {
	return fromGateway(sdk.GetSession(r))
}

// SetSession makes s the request's session. An auth_check plugin calls it to let the request
// in; expiry, access rights, rate limit and quota then apply to s. An empty KeyID is filled
// with the request's auth token. With scheduleUpdate the session is stored under its KeyID
// once the hook returns. hashKey is accepted as in Tyk; the gateway stores keys the way its
// hash_keys setting says. A nil s is a plugin bug: the request gets 500 and the hook is logged
// (Tyk panics).
func SetSession(r *http.Request, s *user.SessionState, scheduleUpdate bool, hashKey ...bool) {
	if s == nil {
		sdk.SetSession(r, nil, scheduleUpdate, hashKey...)
		return
	}
	gs := toGateway(s)
	sdk.SetSession(r, gs, scheduleUpdate, hashKey...)
	s.KeyID = gs.KeyID
	if scheduleUpdate {
		s.Touch()
	}
}

// GetAuthToken returns the request's auth token.
func GetAuthToken(r *http.Request) string { return sdk.GetAuthToken(r) }

// GetDefinition returns a copy of the definition of the API serving the request, or nil
// outside the gateway. Unlike Tyk, it is not nil for a Tyk OAS API: it is the Classic definition
// the document maps to.
func GetDefinition(r *http.Request) *apidef.APIDefinition {
	def := sdk.GetDefinition(r)
	if def == nil {
		return nil
	}
	data, err := json.Marshal(def)
	if err != nil {
		return nil
	}
	var out apidef.APIDefinition
	if err := json.Unmarshal(data, &out); err != nil {
		return nil
	}
	return &out
}

// GetMCPMethod returns "": Gatehouse does not route MCP.
func GetMCPMethod(r *http.Request) string { return "" }

// GetMCPPrimitiveType returns "": Gatehouse does not route MCP.
func GetMCPPrimitiveType(r *http.Request) string { return "" }

// GetMCPPrimitiveName returns "": Gatehouse does not route MCP.
func GetMCPPrimitiveName(r *http.Request) string { return "" }

// GetJSONRPCErrorCode returns 0: Gatehouse does not route JSON-RPC.
func GetJSONRPCErrorCode(r *http.Request) int { return 0 }
