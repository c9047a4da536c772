package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestGatewayAPIRewriteDoesNotUndoDelete: a PUT of a key reads it (it must exist, and some of it
// is kept) before it writes; a DELETE landing between the two, through this gateway or another,
// is not undone: the PUT answers 404 and the key stays deleted. Its body is sent late, so that
// the DELETE comes after the PUT's read (the handler reads the body after the key). A change
// between the two gets 409, and nothing is written.
func TestGatewayAPIRewriteDoesNotUndoDelete(t *testing.T) {
	gt.EachStore(t, func(t *testing.T, store gt.Options) {
		up := gt.NewUpstream(t)
		store.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("race", "/race/", up.URL))}
		g := gt.Start(t, store)
		rights := `"access_rights": {"race": {"api_id": "race", "versions": ["Default"]}}`
		for _, tc := range []struct {
			name     string
			between  gt.Case
			wantCode int
			wantKey  int // the key's GET afterwards
			wantBody string
		}{
			{"deleted", gt.Case{Method: http.MethodDelete}, 404, 404, "Key not found"},
			{"changed", gt.Case{Method: http.MethodPut, Body: `{"rate": 7, "per": 60, ` + rights + `}`}, 409, 200, "the key changed while this request was handled"},
		} {
			key := g.CreateKey(&apidef.SessionState{OrgID: "default", Rate: 5, Per: 60, AccessRights: map[string]apidef.AccessDefinition{"race": {APIID: "race", Versions: []string{"Default"}}}})
			body := `{"rate": 100, "per": 60, ` + rights + `}`
			conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// The head and the body's first byte: the handler reads the key, then waits for the rest.
			fmt.Fprintf(conn, "PUT /tyk/keys/%s HTTP/1.1\r\nHost: gw\r\nX-Tyk-Authorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", key, gt.Secret, len(body), body[:1])
			time.Sleep(300 * time.Millisecond)
			between := tc.between
			between.Admin, between.Path = true, "/tyk/keys/"+key
			if r := g.Do(between); r.Code != 200 {
				t.Fatalf("%s: %s meanwhile = %d %s", tc.name, between.Method, r.Code, r.Body)
			}
			if _, err := io.WriteString(conn, body[1:]); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.wantCode || !strings.Contains(string(got), tc.wantBody) {
				t.Errorf("%s: the PUT = %d %s, want %d %q", tc.name, resp.StatusCode, got, tc.wantCode, tc.wantBody)
			}
			after := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + key})
			if after.Code != tc.wantKey || tc.wantKey == 200 && !strings.Contains(after.Body, `"rate":7`) {
				t.Errorf("%s: GET the key afterwards = %d %s, want %d (with the change made meanwhile)", tc.name, after.Code, after.Body, tc.wantKey)
			}
			// And the proxy agrees.
			g.Run(t, gt.Case{Name: tc.name + ": the proxy", Path: "/race/x", Headers: map[string]string{"Authorization": key}, Code: map[int]int{404: 403, 200: 200}[tc.wantKey]})
		}
	})
}
