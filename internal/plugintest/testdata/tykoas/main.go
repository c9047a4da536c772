// Package main is a Tyk Go plugin of our own writing that reads a Tyk OAS API's document the
// way Tyk plugins do: ctx.GetOASDefinition(r) (the OpenAPI document: Info.Title, Paths) and
// its GetTykExtension() (info, upstream, server, and the plugin's config data at
// Middleware.Global.PluginConfig.Data.Value, each pointer checked). Built unchanged, with the Go
// proxy off.
package main

import (
	"fmt"
	"net/http"

	"github.com/TykTechnologies/tyk/apidef/oas"
	"github.com/TykTechnologies/tyk/ctx"
)

// pluginData returns the plugin's config data from the extension, or nil.
func pluginData(x *oas.XTykAPIGateway) map[string]interface{} {
	if x == nil || x.Middleware == nil || x.Middleware.Global == nil || x.Middleware.Global.PluginConfig == nil ||
		x.Middleware.Global.PluginConfig.Data == nil {
		return nil
	}
	return x.Middleware.Global.PluginConfig.Data.Value
}

// ReadOAS reports what it reads of the document in response headers, then changes its copy:
// the next hook must not see the change.
func ReadOAS(rw http.ResponseWriter, r *http.Request) {
	doc := ctx.GetOASDefinition(r)
	if doc == nil {
		rw.Header().Set("X-OAS", "none")
		if def := ctx.GetDefinition(r); def != nil {
			rw.Header().Set("X-Def-Name", def.Name)
		}
		return
	}
	rw.Header().Set("X-OAS-Title", doc.Info.Title)
	if item := doc.Paths.Find("/items/{id}"); item != nil && item.Get != nil {
		rw.Header().Set("X-OAS-Operation", item.Get.OperationID)
	}
	rw.Header().Set("X-OAS-Paths", fmt.Sprint(doc.Paths.Len()))
	x := doc.GetTykExtension()
	if x == nil {
		rw.Header().Set("X-OAS-Extension", "none")
		return
	}
	rw.Header().Set("X-OAS-Name", x.Info.Name)
	rw.Header().Set("X-OAS-Upstream", x.Upstream.URL)
	rw.Header().Set("X-OAS-Listen-Path", x.Server.ListenPath.Value)
	rw.Header().Set("X-OAS-Team", fmt.Sprint(pluginData(x)["team"]))
	// Gatehouse's GetDefinition is not nil on an OAS API (Tyk's is): it is the Classic
	// definition the document maps to, config_data included.
	if def := ctx.GetDefinition(r); def != nil {
		rw.Header().Set("X-Def-Team", fmt.Sprint(def.ConfigData["team"]))
	}

	doc.Info.Title = "changed by the plugin"
	if data := pluginData(x); data != nil {
		data["team"] = "changed by the plugin"
	}
}

// AfterChange runs after ReadOAS changed its copy: it reads a copy of its own.
func AfterChange(rw http.ResponseWriter, r *http.Request) {
	if doc := ctx.GetOASDefinition(r); doc != nil {
		r.Header.Set("X-Title-Seen-By-Post", doc.Info.Title)
		r.Header.Set("X-Team-Seen-By-Post", fmt.Sprint(pluginData(doc.GetTykExtension())["team"]))
	}
}

// ResponseTitle reads the document in a response hook, as Tyk's test plugin does.
func ResponseTitle(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	title := "none"
	if doc := ctx.GetOASDefinition(req); doc != nil {
		title = doc.Info.Title
	}
	res.Header.Set("X-OAS-Doc-Title", title)
}

func main() {}
