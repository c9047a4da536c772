// Package echo is an upstream that answers every request with a JSON description of what it
// received: method, path, query, headers and body. The quickstart example and the tests put it
// behind the gateway to show what the gateway forwarded.
package echo

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// Request is what the echo upstream saw.
type Request struct {
	Method     string            `json:"method"`
	URI        string            `json:"uri"`
	Path       string            `json:"path"`
	RawPath    string            `json:"raw_path,omitempty"`
	Query      string            `json:"query,omitempty"`
	Host       string            `json:"host"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body,omitempty"`
	BodyLength int               `json:"body_length"`
}

// maxEcho bounds how much of a body is echoed back; longer bodies are read and counted.
const maxEcho = 1 << 20

// Handler returns the echo upstream.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxEcho))
		rest, _ := io.Copy(io.Discard, r.Body)
		out := Request{
			Method:     r.Method,
			URI:        r.RequestURI,
			Path:       r.URL.Path,
			RawPath:    r.URL.RawPath,
			Query:      r.URL.RawQuery,
			Host:       r.Host,
			Headers:    map[string]string{},
			Body:       string(body),
			BodyLength: len(body) + int(rest),
		}
		for k, v := range r.Header {
			out.Headers[k] = strings.Join(v, ", ")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", "1")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	})
}
