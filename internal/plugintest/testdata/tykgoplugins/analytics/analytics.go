// Package analytics holds the analytics hook.
package analytics

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/TykTechnologies/tyk-pump/analytics"
)

// MaskJSONLoginBody replaces the "email" of a recorded JSON request body with asterisks.
// RawRequest is the request in HTTP wire format, base64-encoded.
func MaskJSONLoginBody(record *analytics.AnalyticsRecord) {
	raw, err := base64.StdEncoding.DecodeString(record.RawRequest)
	if err != nil {
		return
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	var doc map[string]interface{}
	if json.Unmarshal(body, &doc) != nil {
		return
	}
	if _, ok := doc["email"]; !ok {
		return
	}
	doc["email"] = "****"
	masked, err := json.Marshal(doc)
	if err != nil {
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(masked))
	req.ContentLength = int64(len(masked))
	req.Header.Set("Content-Length", strconv.Itoa(len(masked)))
	var out bytes.Buffer
	if err := req.Write(&out); err != nil {
		return
	}
	record.RawRequest = base64.StdEncoding.EncodeToString(out.Bytes())
}
