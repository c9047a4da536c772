package apidef

import (
	"fmt"
	"net/url"
	"strings"
)

// ServiceDiscovery is Tyk's proxy.service_discovery: the API's targets are read, as JSON, from
// query_endpoint, every cache_timeout seconds.
//
//   - data_path is the dotted path of a target's host (a URL, or a host to which the API's
//     protocol is added), port_data_path of its port, when apart; target_path is added to each;
//   - endpoint_returns_list: the answer is a list of such objects;
//   - use_nested_query: the value at parent_data_path is a string holding JSON (etcd's), in
//     which data_path is read; it may hold a list;
//   - without a list answer, parent_data_path names the list in the answer;
//   - use_target_list: every target found is used (round robin with enable_load_balancing);
//     else only the first.
type ServiceDiscovery struct {
	UseDiscoveryService bool   `json:"use_discovery_service,omitempty"`
	QueryEndpoint       string `json:"query_endpoint,omitempty"`
	UseNestedQuery      bool   `json:"use_nested_query,omitempty"`
	ParentDataPath      string `json:"parent_data_path,omitempty"`
	DataPath            string `json:"data_path,omitempty"`
	PortDataPath        string `json:"port_data_path,omitempty"`
	TargetPath          string `json:"target_path,omitempty"`
	UseTargetList       bool   `json:"use_target_list,omitempty"`
	CacheDisabled       bool   `json:"cache_disabled,omitempty"`
	CacheTimeout        int64  `json:"cache_timeout,omitempty"`
	EndpointReturnsList bool   `json:"endpoint_returns_list,omitempty"`
}

// DefaultDiscoveryCacheTimeout is how long, in seconds, discovered targets are kept without a
// cache_timeout, as in Tyk.
const DefaultDiscoveryCacheTimeout = 120

// validateServiceDiscovery reports service discovery settings that could find no target.
func (a *APIDefinition) validateServiceDiscovery() []error {
	sd := a.Proxy.ServiceDiscovery
	if !sd.UseDiscoveryService {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("proxy.service_discovery."+format, args...))
	}
	if u, err := url.Parse(sd.QueryEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("query_endpoint: %q is not an http:// or https:// URL", sd.QueryEndpoint)
	}
	if sd.DataPath == "" {
		bad("data_path: missing; the path of a target's host in the discovery service's answer")
	}
	if sd.UseNestedQuery && sd.ParentDataPath == "" {
		bad("parent_data_path: missing; use_nested_query reads the JSON held in the string at it")
	}
	if sd.UseTargetList && !sd.EndpointReturnsList && !sd.UseNestedQuery && sd.ParentDataPath == "" {
		bad("parent_data_path: missing; use_target_list on an answer that is an object reads the list at it")
	}
	if IsLoopTarget(a.Proxy.TargetURL) {
		bad("use_discovery_service: target_url %q loops to an API; discovered targets are upstreams: leave target_url empty or an http(s) URL", a.Proxy.TargetURL)
	}
	if sd.CacheTimeout < 0 {
		bad("cache_timeout: %d is not a number of seconds", sd.CacheTimeout)
	}
	for _, p := range []struct{ name, v string }{{"data_path", sd.DataPath}, {"port_data_path", sd.PortDataPath}, {"parent_data_path", sd.ParentDataPath}} {
		if strings.Contains(p.v, "..") || strings.HasPrefix(p.v, ".") || strings.HasSuffix(p.v, ".") {
			bad("%s: %q has an empty name", p.name, p.v)
		}
	}
	if strings.ContainsAny(sd.TargetPath, "?#") || sd.TargetPath != "" && !strings.HasPrefix(sd.TargetPath, "/") {
		bad("target_path: %q is not a path starting with /", sd.TargetPath)
	}
	return errs
}
