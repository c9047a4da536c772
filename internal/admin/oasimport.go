package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/oas"
)

// importParams are Tyk's query parameters of the import (and PATCH) endpoints.
var importParams = []string{"upstreamURL", "listenPath", "customDomain", "apiID", "authentication",
	"validateRequest", "allowList", "mockResponse", "securityProcessingMode"}

func hasImportParams(r *http.Request) bool {
	q := r.URL.Query()
	for _, p := range importParams {
		if q.Has(p) {
			return true
		}
	}
	return false
}

// operationMethods are the operation keys of an OpenAPI path item.
var operationMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// applyImportParams gives fields (an OpenAPI document) the extension Tyk builds for an import
// (full): the API active, named after info.title, its upstream the first server (variables
// filled with their defaults) unless upstreamURL says otherwise, listening on listenPath
// (default /, stripped), context variables and traffic logs on. Without full (PATCH) the
// parameters given change the document's extension and nothing else. It returns the message of
// a 400, or "".
func applyImportParams(fields map[string]json.RawMessage, r *http.Request, id string, full bool) string {
	q := r.URL.Query()
	// A switch that does not parse is refused, never read as absent: authentication=yes
	// must not give a keyless API.
	for _, name := range []string{"authentication", "validateRequest", "allowList", "mockResponse"} {
		vs, given := q[name]
		if !given {
			continue
		}
		if len(vs) != 1 {
			return fmt.Sprintf("%s is given %d times: give it once, true or false", name, len(vs))
		}
		if _, err := strconv.ParseBool(vs[0]); err != nil {
			return fmt.Sprintf("%s=%.40q: want true or false", name, vs[0])
		}
	}
	if v := q.Get("securityProcessingMode"); v != "" && v != "legacy" && v != "compliant" {
		return fmt.Sprintf("securityProcessingMode=%.40q: want legacy or compliant", v)
	}
	ext := map[string]any{}
	if raw, ok := fields[oas.ExtensionKey]; ok && !full {
		if err := json.Unmarshal(raw, &ext); err != nil || ext == nil {
			return msgRequestMalformed
		}
	}
	var doc struct {
		Info struct {
			Title string `json:"title"`
		} `json:"info"`
		Servers []struct {
			URL       string `json:"url"`
			Variables map[string]struct {
				Default string `json:"default"`
			} `json:"variables"`
		} `json:"servers"`
		Security []map[string][]string `json:"security"`
	}
	if b, err := json.Marshal(fields); err == nil {
		_ = json.Unmarshal(b, &doc)
	}
	if full {
		set(ext, id, "info", "id")
		set(ext, doc.Info.Title, "info", "name")
		set(ext, true, "info", "state", "active")
		upstream := q.Get("upstreamURL")
		if upstream == "" {
			if len(doc.Servers) == 0 || doc.Servers[0].URL == "" {
				return msgNoServersForImport
			}
			upstream = doc.Servers[0].URL
			for name, v := range doc.Servers[0].Variables {
				upstream = strings.ReplaceAll(upstream, "{"+name+"}", v.Default)
			}
		}
		set(ext, upstream, "upstream", "url")
		lp := q.Get("listenPath")
		if lp == "" {
			lp = "/"
		}
		set(ext, lp, "server", "listenPath", "value")
		set(ext, true, "server", "listenPath", "strip")
		set(ext, true, "middleware", "global", "contextVariables", "enabled")
		set(ext, true, "middleware", "global", "trafficLogs", "enabled")
	} else {
		if v := q.Get("upstreamURL"); v != "" {
			set(ext, v, "upstream", "url")
		}
		if v := q.Get("listenPath"); v != "" {
			set(ext, v, "server", "listenPath", "value")
		}
	}
	if v := q.Get("customDomain"); v != "" {
		set(ext, true, "server", "customDomain", "enabled")
		set(ext, v, "server", "customDomain", "name")
	}
	if v := q.Get("securityProcessingMode"); v != "" {
		set(ext, v, "server", "authentication", "securityProcessingMode")
	}
	if on, ok := boolParam(q.Get("authentication")); ok {
		set(ext, on, "server", "authentication", "enabled")
		if on && len(doc.Security) > 0 {
			for name := range doc.Security[0] {
				set(ext, true, "server", "authentication", "securitySchemes", name, "enabled")
			}
		}
	}
	var paths map[string]map[string]json.RawMessage
	_ = json.Unmarshal(fields["paths"], &paths)
	changedPaths := false
	for _, p := range []struct{ param, key string }{{"validateRequest", "validateRequest"}, {"allowList", "allow"}, {"mockResponse", "mockResponse"}} {
		on, ok := boolParam(q.Get(p.param))
		if !ok {
			continue
		}
		for path, item := range paths {
			for _, m := range operationMethods {
				opRaw, ok := item[m]
				if !ok {
					continue
				}
				var op map[string]any
				if json.Unmarshal(opRaw, &op) != nil || op == nil {
					continue
				}
				if !applies(p.key, op, item) {
					continue
				}
				opID, _ := op["operationId"].(string)
				if opID == "" {
					// Tyk's generated id: the path without its leading slash, then the method.
					opID = strings.TrimPrefix(path, "/") + m
					op["operationId"] = opID
					item[m], _ = json.Marshal(op)
					changedPaths = true
				}
				set(ext, on, "middleware", "operations", opID, p.key, "enabled")
				if p.key == "mockResponse" && on {
					set(ext, true, "middleware", "operations", opID, p.key, "fromOASExamples", "enabled")
				}
			}
		}
	}
	if changedPaths {
		fields["paths"], _ = json.Marshal(paths)
	}
	raw, err := json.Marshal(ext)
	if err != nil {
		return msgRequestMalformed
	}
	fields[oas.ExtensionKey] = raw
	return ""
}

// applies reports whether an import parameter's middleware is set on an operation: validation
// where there is something to validate, mocks where a response has content, the allow list on
// every operation.
func applies(key string, op map[string]any, item map[string]json.RawMessage) bool {
	switch key {
	case "validateRequest":
		_, params := op["parameters"]
		_, body := op["requestBody"]
		_, shared := item["parameters"]
		return params || body || shared
	case "mockResponse":
		responses, _ := op["responses"].(map[string]any)
		for _, r := range responses {
			if m, ok := r.(map[string]any); ok && m["content"] != nil {
				return true
			}
		}
		return false
	}
	return true
}

func boolParam(v string) (bool, bool) {
	if v == "" {
		return false, false
	}
	b, err := strconv.ParseBool(v)
	return b, err == nil
}

// set sets m[path...] = v, creating the objects on the way.
func set(m map[string]any, v any, path ...string) {
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}
