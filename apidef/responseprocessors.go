package apidef

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ResponseProcessor is an entry of response_processors: Tyk's list of the handlers that run on
// upstream responses, from before Tyk added them itself for the features that need them.
type ResponseProcessor struct {
	Name    string          `json:"name"`
	Options json.RawMessage `json:"options,omitempty"`
}

// HeaderInjectorOptions are a header_injector processor's options: headers removed from every
// upstream response of the API, then headers set, after the version's global response headers
// and, as in Tyk, not when those are disabled (global_response_headers_disabled).
type HeaderInjectorOptions struct {
	AddHeaders    map[string]string `json:"add_headers"`
	RemoveHeaders []string          `json:"remove_headers"`
}

// The response processors Gatehouse reads. A response_body_transform entry changes nothing:
// the transform_response entries run without it, as in today's Tyk.
const (
	ProcessorHeaderInjector        = "header_injector"
	ProcessorResponseBodyTransform = "response_body_transform"
)

// Processors decodes response_processors (none when it is absent or null).
func (a *APIDefinition) Processors() ([]ResponseProcessor, error) {
	if absentJSON(a.ResponseProcessors) {
		return nil, nil
	}
	var out []ResponseProcessor
	if err := json.Unmarshal(a.ResponseProcessors, &out); err != nil {
		return nil, fmt.Errorf("response_processors: %v; it is a list of {\"name\": ..., \"options\": {...}}", err)
	}
	return out, nil
}

// HeaderInjectors returns the options of the header_injector processors, in their order. Entries
// that do not decode are left out: Validate refuses the definition for them.
func (a *APIDefinition) HeaderInjectors() []HeaderInjectorOptions {
	procs, _ := a.Processors()
	var out []HeaderInjectorOptions
	for _, p := range procs {
		if p.Name != ProcessorHeaderInjector {
			continue
		}
		if o, err := p.headerInjector(); err == nil {
			out = append(out, o)
		}
	}
	return out
}

func (p ResponseProcessor) headerInjector() (HeaderInjectorOptions, error) {
	var o HeaderInjectorOptions
	if absentJSON(p.Options) {
		return o, nil
	}
	return o, json.Unmarshal(p.Options, &o)
}

// absentJSON reports whether a raw value is absent or null.
func absentJSON(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// validateProcessors reports a response_processors list that does not decode and
// header_injector options that do not.
func (a *APIDefinition) validateProcessors() []error {
	procs, err := a.Processors()
	if err != nil {
		return []error{err}
	}
	var errs []error
	for i, p := range procs {
		if p.Name != ProcessorHeaderInjector {
			continue
		}
		if _, err := p.headerInjector(); err != nil {
			errs = append(errs, fmt.Errorf("response_processors[%d] (header_injector).options: %v; "+
				"they are {\"add_headers\": {\"Name\": \"value\"}, \"remove_headers\": [\"Name\"]}", i, err))
		}
	}
	return errs
}

// unsupportedProcessors lists the response processors Gatehouse does not run.
func (a *APIDefinition) unsupportedProcessors() []string {
	procs, _ := a.Processors()
	var out []string
	for i, p := range procs {
		if p.Name != ProcessorHeaderInjector && p.Name != ProcessorResponseBodyTransform {
			out = append(out, fmt.Sprintf("response_processors[%d]: processor %q (only %q and %q are read)",
				i, p.Name, ProcessorHeaderInjector, ProcessorResponseBodyTransform))
		}
	}
	return out
}
