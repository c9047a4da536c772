package gateway_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// A reload reuses the compiled APIs whose definition and dependencies did not change (reuse.go):
// these tests check that what changed is compiled again and serves, and that what did not is
// the same compiled API.

func TestReloadReusesUnchangedAPIs(t *testing.T) {
	up1, up2 := gt.NewUpstream(t), gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		gt.API("a", "/a/", up1.URL), gt.API("b", "/b/", up1.URL),
	}})
	a0, b0 := g.GW.Compiled("a"), g.GW.Compiled("b")
	if a0 == nil || b0 == nil {
		t.Fatal("the APIs do not serve")
	}

	g.Reload()
	if g.GW.Compiled("a") != a0 || g.GW.Compiled("b") != b0 {
		t.Error("a reload with nothing changed compiled the APIs again")
	}
	// The same bytes written again (a deploy rewriting every file) change nothing.
	g.WriteAPI(gt.API("b", "/b/", up1.URL))
	g.Reload()
	if g.GW.Compiled("b") != b0 {
		t.Error("a definition rewritten with the same content was compiled again")
	}

	// A changed definition is compiled again and serves at once; the other is kept.
	g.WriteAPI(gt.API("a", "/a/", up2.URL))
	g.Reload()
	if g.GW.Compiled("a") == a0 {
		t.Error("a changed definition kept its old compiled API")
	}
	if g.GW.Compiled("b") != b0 {
		t.Error("an unchanged definition beside a changed one was compiled again")
	}
	before := len(up2.Requests())
	g.Run(t, gt.Case{Name: "changed API", Path: "/a/x", Code: http.StatusOK},
		gt.Case{Name: "kept API", Path: "/b/x", Code: http.StatusOK})
	if n := len(up2.Requests()) - before; n != 1 {
		t.Errorf("the changed API sent %d requests to its new upstream, want 1", n)
	}

	// A removed definition stops serving.
	if err := os.Remove(filepath.Join(g.AppPath, "b.json")); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	if g.GW.Compiled("b") != nil {
		t.Error("a removed definition still serves")
	}
	g.Run(t, gt.Case{Name: "removed API", Path: "/b/x", Code: http.StatusNotFound})

	// Written back as before, it serves again, from a new compile.
	g.WriteAPI(gt.API("b", "/b/", up1.URL))
	g.Reload()
	if b := g.GW.Compiled("b"); b == nil || b == b0 {
		t.Errorf("a definition added back: compiled %v, want a new compiled API", b)
	}
	g.Run(t, gt.Case{Name: "added back", Path: "/b/x", Code: http.StatusOK})

	// A file that no longer decodes is reported, and its API stops serving, as before.
	g.WriteFile("a.json", []byte(`{"api_id": "a", `))
	g.Reload()
	g.Run(t, gt.Case{Name: "broken definition", Path: "/a/x", Code: http.StatusNotFound})
}

// TestReloadPolicyChangeRecompiles: keyed APIs hold the policies they were compiled with, so a
// changed policies file compiles them again and the new policy decides at once.
func TestReloadPolicyChangeRecompiles(t *testing.T) {
	up := gt.NewUpstream(t)
	grantA := `{"p": {"rate": 1000, "per": 1, "access_rights": {"a": {"api_id": "a", "versions": ["Default"]}}}}`
	grantB := `{"p": {"rate": 1000, "per": 1, "access_rights": {"b": {"api_id": "b", "versions": ["Default"]}}}}`
	g := gt.Start(t, gt.Options{Policies: grantA, APIs: []*apidef.APIDefinition{
		gt.Keyed(gt.API("a", "/a/", up.URL)), gt.Keyed(gt.API("b", "/b/", up.URL)),
	}})
	key := map[string]string{"Authorization": g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"p"}})}
	g.Run(t, gt.Case{Name: "granted a", Path: "/a/x", Headers: key, Code: http.StatusOK},
		gt.Case{Name: "not granted b", Path: "/b/x", Headers: key, Code: http.StatusForbidden})

	a0 := g.GW.Compiled("a")
	g.Reload()
	if g.GW.Compiled("a") != a0 {
		t.Error("a reload with the same policies compiled the keyed API again")
	}

	if err := os.WriteFile(g.Config.Policies.PolicyRecordName, []byte(grantB), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	if g.GW.Compiled("a") == a0 {
		t.Error("a changed policy kept the compiled API made with the old one")
	}
	g.Run(t, gt.Case{Name: "a no longer granted", Path: "/a/x", Headers: key, Code: http.StatusForbidden},
		gt.Case{Name: "b granted", Path: "/b/x", Headers: key, Code: http.StatusOK})
}

// TestReloadKeepsUnchangedPolicies: a reload that finds the policies file as it was keeps its
// decoded policies (and the broken ones' report) instead of decoding them again; a file whose
// bytes changed is decoded again, even when only its spacing did.
func TestReloadKeepsUnchangedPolicies(t *testing.T) {
	up := gt.NewUpstream(t)
	pols := `{"p": {"rate": 1000, "per": 1, "access_rights": {"a": {"api_id": "a", "versions": ["Default"]}}},
		"bad": {"rate": 5, "per": 1e-12, "access_rights": {"a": {"api_id": "a"}}}}`
	g := gt.Start(t, gt.Options{Policies: pols, APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}})
	key := map[string]string{"Authorization": g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"p"}})}
	set0, a0 := g.GW.FilePolicies(), g.GW.Compiled("a")

	g.Reload()
	if g.GW.FilePolicies() != set0 || g.GW.Compiled("a") != a0 {
		t.Error("a reload with the policies file unchanged decoded its policies again, or compiled the keyed API again")
	}
	g.Run(t, gt.Case{Name: "the policy still grants", Path: "/a/x", Headers: key, Code: http.StatusOK},
		gt.Case{Name: "the broken policy is still reported", Admin: true, Path: "/hello", Code: http.StatusOK, BodyMatch: `policy \\"bad\\" in [^ ]+ is not loaded`})

	if err := os.WriteFile(g.Config.Policies.PolicyRecordName, []byte(pols+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	if g.GW.FilePolicies() == set0 {
		t.Error("the policies file changed, yet its policies were not decoded again")
	}
	g.Run(t, gt.Case{Name: "the policy decoded again grants", Path: "/a/x", Headers: key, Code: http.StatusOK})
}

// TestReloadRecompilesPluginAPIs: an API with a plugin is compiled again on every reload (its
// file may have been replaced under the same path), while a plain one beside it is reused.
func TestReloadRecompilesPluginAPIs(t *testing.T) {
	so := plugintest.Build(t, benchkit.PluginPkg)
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		benchkit.WithHooks(gt.API("plug", "/plug/", up.URL), so, "post"), gt.API("plain", "/plain/", up.URL),
	}})
	plug0, plain0 := g.GW.Compiled("plug"), g.GW.Compiled("plain")
	g.Reload()
	if g.GW.Compiled("plug") == plug0 {
		t.Error("an API with a plugin was reused across a reload")
	}
	if g.GW.Compiled("plain") != plain0 {
		t.Error("an API without a plugin was compiled again")
	}
	g.Run(t, gt.Case{Path: "/plug/x", Code: http.StatusOK})
	last, ok := up.Last()
	if !ok || last.Headers["X-Bench-Post"] != "1" {
		t.Errorf("the post hook did not run after the reload: %+v", last)
	}
}

// TestReloadTemplateFileChange: a body transform template in a file (template_mode "file", read
// from app_path when the API compiles) is read again on every reload, though the definition's
// bytes did not change: an edited template serves at once, and a deleted one refuses the API as
// any template that cannot be read does, while a plain API beside it is still reused.
func TestReloadTemplateFileChange(t *testing.T) {
	up := gt.NewUpstream(t)
	def := withExtended(gt.API("tf", "/tf/", up.URL), apidef.ExtendedPathsSet{
		Transform: []apidef.TemplateMeta{{Path: "/x", Method: "POST",
			TemplateData: apidef.TemplateData{Input: "json", Mode: "file", TemplateSource: "t.tmpl"}}},
	})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, gt.API("plain", "/plain/", up.URL)}})
	g.WriteFile("t.tmpl", []byte(`old {{.a}}`))
	g.Reload()
	g.Run(t, gt.Case{Name: "old template", Method: "POST", Path: "/tf/x", Body: `{"a": 1}`, Code: http.StatusOK})
	if last, ok := up.Last(); !ok || last.Body != "old 1" {
		t.Fatalf("upstream got %+v, want body %q", last, "old 1")
	}
	plain0 := g.GW.Compiled("plain")

	g.WriteFile("t.tmpl", []byte(`new {{.a}}`))
	g.Reload()
	g.Run(t, gt.Case{Name: "new template", Method: "POST", Path: "/tf/x", Body: `{"a": 1}`, Code: http.StatusOK})
	if last, ok := up.Last(); !ok || last.Body != "new 1" {
		t.Fatalf("after editing the template file and reloading, the upstream got body %q, want %q", last.Body, "new 1")
	}
	if g.GW.Compiled("plain") != plain0 {
		t.Error("an API without a template file was compiled again")
	}

	// Transform_response templates are read again too.
	def = withExtended(gt.API("tf", "/tf/", up.URL), apidef.ExtendedPathsSet{
		TransformResponse: []apidef.TemplateMeta{{Path: "/x", Method: "GET",
			TemplateData: apidef.TemplateData{Input: "json", Mode: "file", TemplateSource: "t.tmpl"}}},
	})
	g.WriteAPI(def)
	g.Reload()
	tf0 := g.GW.Compiled("tf")
	g.WriteFile("t.tmpl", []byte(`response {{.a}}`))
	g.Reload()
	if g.GW.Compiled("tf") == tf0 {
		t.Error("an API with a transform_response template file was reused across a reload")
	}

	// A deleted template: the API is refused, as when it was first loaded without it.
	if err := os.Remove(filepath.Join(g.AppPath, "t.tmpl")); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	if g.GW.Compiled("tf") != nil {
		t.Error("an API whose template file was deleted still serves its old template")
	}
	g.Run(t, gt.Case{Name: "template deleted", Method: "POST", Path: "/tf/x", Body: `{"a": 1}`, Code: http.StatusNotFound},
		gt.Case{Name: "plain API", Path: "/plain/x", Code: http.StatusOK})
}

// TestReloadTemplateFileUnchanged: an API whose body transform templates come from files is
// reused across reloads while those files hold the same content (written again unchanged
// included), and compiled again once one of them changes.
func TestReloadTemplateFileUnchanged(t *testing.T) {
	up := gt.NewUpstream(t)
	def := withExtended(gt.API("tf", "/tf/", up.URL), apidef.ExtendedPathsSet{
		Transform: []apidef.TemplateMeta{{Path: "/x", Method: "POST",
			TemplateData: apidef.TemplateData{Input: "json", Mode: "file", TemplateSource: "t.tmpl"}}},
		TransformResponse: []apidef.TemplateMeta{{Path: "/x", Method: "POST",
			TemplateData: apidef.TemplateData{Input: "json", Mode: "file", TemplateSource: "r.tmpl"}}},
	})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	g.WriteFile("t.tmpl", []byte(`{"got": {{.a}}}`))
	g.WriteFile("r.tmpl", []byte(`answer`))
	g.Reload()
	tf0 := g.GW.Compiled("tf")
	if tf0 == nil {
		t.Fatal("the API with template files does not serve")
	}
	g.Reload()
	if g.GW.Compiled("tf") != tf0 {
		t.Error("an API whose template files did not change was compiled again")
	}
	g.WriteFile("r.tmpl", []byte(`answer`)) // the same content, written again
	g.Reload()
	if g.GW.Compiled("tf") != tf0 {
		t.Error("an API whose template file was rewritten with the same content was compiled again")
	}
	g.Run(t, gt.Case{Name: "reused", Method: "POST", Path: "/tf/x", Body: `{"a": 1}`, Code: http.StatusOK, BodyMatch: "^answer$"})
	if last, ok := up.Last(); !ok || last.Body != `{"got": 1}` {
		t.Fatalf("upstream got %+v, want body %q", last, `{"got": 1}`)
	}
	g.WriteFile("r.tmpl", []byte(`changed`))
	g.Reload()
	if g.GW.Compiled("tf") == tf0 {
		t.Error("an API whose transform_response template file changed was reused")
	}
	g.Run(t, gt.Case{Name: "changed", Method: "POST", Path: "/tf/x", Body: `{"a": 1}`, Code: http.StatusOK, BodyMatch: "^changed$"})
}
