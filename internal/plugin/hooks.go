package plugin

import (
	"debug/elf"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/gatehouse/gatehouse/sdk"
)

// The hook function types, as in Tyk.
type (
	// RequestFunc is the type of pre, auth_check, post_key_auth, post and per-endpoint hooks.
	RequestFunc = func(http.ResponseWriter, *http.Request)
	// ResponseFunc is the type of response hooks.
	ResponseFunc = func(http.ResponseWriter, *http.Response, *http.Request)
	// AnalyticsFunc is the type of analytics hooks.
	AnalyticsFunc = func(*sdk.AnalyticsRecord)
)

// Kind names the hook signatures.
type Kind string

// Hook kinds.
const (
	KindRequest   Kind = "request"
	KindResponse  Kind = "response"
	KindAnalytics Kind = "analytics"
)

// Signature returns the Go signature of a kind of hook.
func (k Kind) Signature() string {
	switch k {
	case KindRequest:
		return "func(http.ResponseWriter, *http.Request)"
	case KindResponse:
		return "func(http.ResponseWriter, *http.Response, *http.Request)"
	case KindAnalytics:
		return "func(*sdk.AnalyticsRecord)"
	}
	return "?"
}

// Hooks returns which hooks a kind serves.
func (k Kind) Hooks() string {
	switch k {
	case KindRequest:
		return "pre, auth_check, post_key_auth, post and per-endpoint (go_plugin)"
	case KindResponse:
		return "response"
	case KindAnalytics:
		return "analytics_plugin"
	}
	return ""
}

// KindOf reports which hooks a looked-up symbol fits: a function of a hook type, or an exported
// variable holding one (Lookup gives a pointer to the variable).
func KindOf(sym any) (Kind, bool) {
	_, k := normalize(sym)
	return k, k != ""
}

// normalize returns the hook function a looked-up symbol is or holds (an exported variable
// comes as a pointer to it), as a RequestFunc, ResponseFunc or AnalyticsFunc, with its kind. fn
// is nil for a variable that holds nil; kind is "" for a symbol that fits no hook.
func normalize(sym any) (fn any, kind Kind) {
	switch s := sym.(type) {
	case RequestFunc:
		fn, kind = s, KindRequest
	case *RequestFunc:
		fn, kind = *s, KindRequest
	case http.HandlerFunc:
		fn, kind = RequestFunc(s), KindRequest
	case *http.HandlerFunc:
		fn, kind = RequestFunc(*s), KindRequest
	case ResponseFunc:
		fn, kind = s, KindResponse
	case *ResponseFunc:
		fn, kind = *s, KindResponse
	case AnalyticsFunc:
		fn, kind = s, KindAnalytics
	case *AnalyticsFunc:
		fn, kind = *s, KindAnalytics
	default:
		return nil, ""
	}
	if reflect.ValueOf(fn).IsNil() {
		fn = nil
	}
	return fn, kind
}

// RequestHook returns the request hook named symbol.
func (p *Plugin) RequestHook(symbol string) (RequestFunc, error) {
	return hook[RequestFunc](p, symbol, KindRequest)
}

// ResponseHook returns the response hook named symbol.
func (p *Plugin) ResponseHook(symbol string) (ResponseFunc, error) {
	return hook[ResponseFunc](p, symbol, KindResponse)
}

// AnalyticsHook returns the analytics hook named symbol.
func (p *Plugin) AnalyticsHook(symbol string) (AnalyticsFunc, error) {
	return hook[AnalyticsFunc](p, symbol, KindAnalytics)
}

// hook returns the hook of kind want named symbol.
func hook[F RequestFunc | ResponseFunc | AnalyticsFunc](p *Plugin, symbol string, want Kind) (F, error) {
	var none F
	sym, err := p.Lookup(symbol)
	if err != nil {
		return none, err
	}
	fn, kind := normalize(sym)
	if kind != want {
		return none, p.describe(fmt.Errorf("%s: symbol %q is %s, but a %s hook must be %s (or an exported variable of that type)",
			p.file, symbol, typeName(sym), want, want.Signature()))
	}
	if fn == nil {
		return none, fmt.Errorf("%s: %q is an exported variable that holds nil; assign it a function", p.file, symbol)
	}
	return fn.(F), nil
}

// Lookup returns the symbol named symbol, with the kinds of hook it fits.
func (p *Plugin) Lookup(symbol string) (any, error) {
	sym, err := p.e.lib.Lookup(symbol)
	if err != nil {
		return nil, p.describe(fmt.Errorf("%s has no exported symbol %q", p.file, symbol))
	}
	return sym, nil
}

// describe adds the file's exported symbols to err.
// maxDescribed bounds the exports an error about a hook lists.
const maxDescribed = 12

func (p *Plugin) describe(err error) error {
	syms := p.Symbols()
	if len(syms) == 0 {
		return fmt.Errorf("%w; the file exports no functions or variables", err)
	}
	var b strings.Builder
	for i, s := range syms {
		if i == maxDescribed {
			// Every failed hook of every API says this: /hello and the reload's answer repeat it.
			fmt.Fprintf(&b, "\n  and %d more (gatehouse plugin check %s lists them all)", len(syms)-i, p.file)
			break
		}
		fmt.Fprintf(&b, "\n  %s %s", s.Name, s.Type)
		if s.Kind != "" {
			fmt.Fprintf(&b, " (fits %s hooks)", s.Kind.Hooks())
		}
	}
	return fmt.Errorf("%w; the file exports:%s", err, b.String())
}

// SymbolInfo describes one exported symbol of a plugin.
type SymbolInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Kind is the hook kind the symbol fits, "" for none.
	Kind Kind `json:"kind,omitempty"`
}

// Symbols lists the plugin's exported functions and variables, from its symbol table, with their
// Go types.
func (p *Plugin) Symbols() []SymbolInfo {
	// Every Plugin of the same content shares the entry, and gateways of one process may ask
	// at once: the list is worked out once.
	p.e.symbolsOnce.Do(func() {
		names := exportedNames(p.e.cached, p.e.pluginPath)
		if names == nil {
			// The cached copy may be gone (another gateway's cache in this process); the names
			// are only for messages, so the original file will do.
			names = exportedNames(p.file, p.e.pluginPath)
		}
		for _, name := range names {
			sym, err := p.e.lib.Lookup(name)
			if err != nil {
				continue
			}
			k, _ := KindOf(sym)
			p.e.symbols = append(p.e.symbols, SymbolInfo{Name: name, Type: typeName(sym), Kind: k})
		}
	})
	return p.e.symbols
}

func typeName(sym any) string {
	t := reflect.TypeOf(sym)
	if t.Kind() == reflect.Pointer && t.Elem().Kind() != reflect.Struct {
		return "var of type " + t.Elem().String()
	}
	return t.String()
}

// exportedNames reads the names of the main package's exported symbols from the file's
// symbol table. Go's plugin package cannot list them.
func exportedNames(file, pluginPath string) []string {
	f, err := elf.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil
	}
	prefix := pluginPath + "."
	seen := map[string]bool{}
	for _, s := range syms {
		name, ok := strings.CutPrefix(s.Name, prefix)
		if !ok || name == "" || strings.ContainsAny(name, ".·") {
			continue
		}
		if r := []rune(name)[0]; !unicode.IsUpper(r) {
			continue
		}
		seen[name] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
