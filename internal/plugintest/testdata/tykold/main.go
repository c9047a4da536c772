// Package main is a Tyk auth plugin of our own writing in the style of the examples made for
// Tyk before 4.0.1: the old headers package, the API's name from ctx.GetDefinition, and the
// four-argument ctx.SetSession(r, session, key, true), which Tyk 4.0.1 replaced by
// ctx.SetSession(r, session, true) with session.KeyID set. It must not build, and the error
// must say what to write instead.
package main

import (
	"net/http"

	"github.com/TykTechnologies/tyk/ctx"
	"github.com/TykTechnologies/tyk/headers"
	"github.com/TykTechnologies/tyk/user"
)

// MyAuthCheck lets in the key "letmein", on a session named after the API.
func MyAuthCheck(rw http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(headers.Authorization)
	if key != "letmein" {
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	session := &user.SessionState{
		OrgID: "default",
		Alias: "old-style " + ctx.GetDefinition(r).Name,
		Rate:  100,
		Per:   1,
		AccessRights: map[string]user.AccessDefinition{
			ctx.GetDefinition(r).APIID: {APIID: ctx.GetDefinition(r).APIID, Versions: []string{"Default"}},
		},
	}
	// The pre-4.0.1 call, on line 34 (the test expects the error to name it): the token is
	// passed where today's API takes scheduleUpdate.
	ctx.SetSession(r, session, key, true)
}

func main() {}
