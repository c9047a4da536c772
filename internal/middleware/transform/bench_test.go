package transform

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

// BenchmarkRequestTransform measures one request body transform: a 150-byte JSON body through a
// small template (the bench's body-transform scenario).
func BenchmarkRequestTransform(b *testing.B) {
	const body = `{"name":"Rex","age":3,"tags":["good","dog"],"owner":{"id":42,"email":"owner@example.test"},"vaccinated":true,"weight":12.5,"notes":"likes long walks"}`
	tr, err := Compile(&apidef.APIDefinition{VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{"v1": {UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{Transform: []apidef.TemplateMeta{meta("/", "POST", "json",
			`{"pet": {{jsonMarshal .name}}, "age": {{.age}}, "owner": {{.owner.id}}, "tags": [{{range $i, $t := .tags}}{{if $i}}, {{end}}{{jsonMarshal $t}}{{end}}]}`)}}}}}}, "")
	if err != nil {
		b.Fatal(err)
	}
	step, _ := tr.Step()
	readings := endpoint.Readings("/")
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/api/", strings.NewReader(body))
		c := &chain.Context{Version: "v1", Readings: readings}
		if err := step.Run(nil, r, c); err != nil {
			b.Fatal(err)
		}
	}
}
