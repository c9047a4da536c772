package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// TestSegmentedFleet: gateways with node_is_segmented serve only the shared definitions tagged
// for them, so one listen path serves two regions' upstreams; a gateway that is not segmented
// serves every definition; a definition with tags_disabled is untagged; listen paths are checked
// across segments when definitions are stored; app_path's definitions load whatever their tags.
func TestSegmentedFleet(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	segmented := func(tags ...string) func(*config.Config) {
		return func(c *config.Config) {
			c.DBAppConfOptions = config.DBAppConfOptions{NodeIsSegmented: true, Tags: tags}
		}
	}
	// A file tagged for another segment still loads on the EU gateway, as in Tyk.
	local := gt.API("local", "/local/", up.URL)
	local.Tags = []string{"us"}
	eu := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{local}, Config: segmented("eu", "edge")})
	us := gt.Start(t, gt.Options{Redis: srv.Addr, Config: segmented("us")})
	// segments returns the nodes' tags as g's status report lists them, sorted.
	segments := func(g *gt.Gateway) []string {
		var rep struct {
			Fleet struct {
				Nodes []struct {
					Tags []string `json:"tags"`
				} `json:"nodes"`
			} `json:"fleet"`
		}
		r := g.Do(gt.Case{Admin: true, Path: "/tyk/status"})
		if err := json.Unmarshal([]byte(r.Body), &rep); err != nil {
			t.Fatalf("status report: %v", err)
		}
		var out []string
		for _, n := range rep.Fleet.Nodes {
			out = append(out, strings.Join(n.Tags, ","))
		}
		slices.Sort(out)
		return out
	}
	nodes := func(g *gt.Gateway, n int) func() string {
		return func() string {
			if got := segments(g); len(got) != n {
				return fmt.Sprintf("the status report lists %d nodes, want %d", len(got), n)
			}
			return ""
		}
	}
	within(t, 15*time.Second, "both segmented nodes announced", nodes(eu, 2))

	post := func(g *gt.Gateway, def *apidef.APIDefinition) gt.Response {
		t.Helper()
		return g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, def))})
	}
	tagged := func(id, listen, target string, tags ...string) *apidef.APIDefinition {
		d := gt.API(id, listen, target)
		d.Tags = tags
		return d
	}
	// One listen path, one definition per region: stored through the EU gateway, which does
	// not serve the US one.
	gt.Check(t, gt.Case{Code: 200}, post(eu, tagged("users-eu", "/users/", up.URL+"/eu", "eu")))
	gt.Check(t, gt.Case{Code: 200}, post(eu, tagged("users-us", "/users/", up.URL+"/us", "us")))
	// Refused: the EU gateway, on eu and edge, would serve this one with users-eu.
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `already used by API .+users-eu.+ \(a gateway of the fleet segmented on tags eu, edge would serve both\)`},
		post(us, tagged("users-edge", "/users/", up.URL, "edge", "apac")))
	// A shared definition the EU gateway would serve clashes with its own file's listen path,
	// whatever the file's tags.
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `already used by API .+local`}, post(eu, tagged("local-eu", "/local/", up.URL, "edge")))
	// tags_disabled: untagged, so only a gateway that is not segmented serves it.
	off := tagged("reports", "/reports/", up.URL, "eu")
	off.TagsDisabled = true
	gt.Check(t, gt.Case{Code: 200}, post(us, off))

	// A gateway that is not segmented joins: it would serve every definition.
	all := gt.Start(t, gt.Options{Redis: srv.Addr})
	within(t, 15*time.Second, "the third node announced", nodes(eu, 3))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `already used by API .+reports.+ \(a gateway of the fleet that is not segmented would serve both\)`},
		post(eu, tagged("reports-eu", "/reports/", up.URL, "eu")))

	gt.Check(t, gt.Case{Code: 200}, all.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	served := func(g *gt.Gateway, path string, code int, body string) func() string {
		return func() string {
			r := g.Do(gt.Case{Path: path})
			if r.Code != code || !strings.Contains(r.Body, body) {
				return fmt.Sprintf("%s: %d %.200s, want %d with %q", path, r.Code, r.Body, code, body)
			}
			return ""
		}
	}
	within(t, 5*time.Second, "the EU gateway", served(eu, "/users/x", http.StatusOK, `"path": "/eu/x"`))
	within(t, 5*time.Second, "the US gateway", served(us, "/users/x", http.StatusOK, `"path": "/us/x"`))
	within(t, 5*time.Second, "the unsegmented gateway", served(all, "/reports/x", http.StatusOK, `"path": "/x"`))
	for _, g := range []*gt.Gateway{eu, us} {
		gt.Check(t, gt.Case{Code: http.StatusNotFound}, g.Do(gt.Case{Path: "/reports/x"}))
	}
	gt.Check(t, gt.Case{Code: 200}, eu.Do(gt.Case{Path: "/local/x"}))

	// /hello counts what is left to other segments, without naming the tags.
	h := health(t, eu)
	seg, ok := h.Details["segment"]
	if !ok || !strings.Contains(seg.Output, "2 of the 3 definitions the fleet shares are not tagged for this gateway") || strings.Contains(seg.Output, "edge") {
		t.Errorf("the EU gateway's /hello segment detail = %+v, want 2 of the 3 definitions elsewhere, tags not named", seg)
	}
	if _, ok := health(t, all).Details["segment"]; ok {
		t.Error("a gateway that is not segmented reports a segment")
	}

	// The gateway that is not segmented serves both regions' definitions: the first on the
	// listen path serves, the other is reported, never a mix.
	r := all.Do(gt.Case{Path: "/users/x"})
	if r.Code != http.StatusOK || !strings.Contains(r.Body, `"path": "/eu/x"`) && !strings.Contains(r.Body, `"path": "/us/x"`) {
		t.Errorf("the unsegmented gateway on /users/: %d %s", r.Code, r.Body)
	}
	if !strings.Contains(all.Do(gt.Case{Admin: true, Path: "/hello"}).Body, `listen path \"/users/\" is already served by API`) {
		t.Error("the unsegmented gateway does not report the second definition on /users/")
	}

	// The status page lists each node's segment.
	if got, want := segments(eu), []string{"", "eu,edge", "us"}; !slices.Equal(got, want) {
		t.Errorf("the status report lists the nodes' tags %q, want %q", got, want)
	}

	// A gateway whose tags match no definition (tags are compared exactly) serves none of
	// them, and /hello warns.
	typo := gt.Start(t, gt.Options{Redis: srv.Addr, Config: segmented("EU")})
	if d := health(t, typo).Details["segment"]; d.Status != admin.StatusWarn || !strings.Contains(d.Output, "compared exactly") {
		t.Errorf("a segment matching no definition: /hello segment detail %+v, want a warning", d)
	}
	gt.Check(t, gt.Case{Code: http.StatusNotFound}, typo.Do(gt.Case{Path: "/users/x"}))
}
