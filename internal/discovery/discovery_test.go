package discovery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestTargets: the answers of Consul, etcd and Eureka-like services read as Tyk reads them.
func TestTargets(t *testing.T) {
	consul := `[{"Node": "n1", "ServiceAddress": "10.0.0.1", "ServicePort": 8080},
		{"Node": "n2", "ServiceAddress": "https://10.0.0.2", "ServicePort": "8443"},
		{"Node": "n3", "ServiceAddress": 7, "ServicePort": 1},
		{"Node": "n4", "ServiceAddress": "10.0.0.4", "ServicePort": [9090, 9091]}]`
	etcd := `{"action": "get", "node": {"key": "/services/ledger", "value": "{\"hostname\": \"http://ledger.internal\", \"port\": 8000}"}}`
	etcdList := `{"node": {"value": "[{\"hostname\": \"a.internal\", \"port\": 1}, {\"hostname\": \"b.internal\", \"port\": 2}]"}}`
	eureka := `{"application": {"instance": [{"hostName": "e1.internal", "port": {"$": 80}}, {"hostName": "e2.internal", "port": {"$": 81}}]}}`
	tests := []struct {
		name     string
		sd       apidef.ServiceDiscovery
		answer   string
		protocol string
		want     []string
	}{
		{"consul, every target", apidef.ServiceDiscovery{EndpointReturnsList: true, UseTargetList: true, DataPath: "ServiceAddress", PortDataPath: "ServicePort", TargetPath: "/v1"},
			consul, "", []string{"http://10.0.0.1:8080/v1", "https://10.0.0.2:8443/v1", "http://10.0.0.4:9090/v1"}},
		{"consul, the first", apidef.ServiceDiscovery{EndpointReturnsList: true, DataPath: "ServiceAddress", PortDataPath: "ServicePort"},
			consul, "", []string{"http://10.0.0.1:8080"}},
		{"etcd, nested", apidef.ServiceDiscovery{UseNestedQuery: true, ParentDataPath: "node.value", DataPath: "hostname", PortDataPath: "port"},
			etcd, "", []string{"http://ledger.internal:8000"}},
		{"etcd, a nested list", apidef.ServiceDiscovery{UseNestedQuery: true, UseTargetList: true, ParentDataPath: "node.value", DataPath: "hostname", PortDataPath: "port"},
			etcdList, "https", []string{"https://a.internal:1", "https://b.internal:2"}},
		{"eureka, a list in an object", apidef.ServiceDiscovery{UseTargetList: true, ParentDataPath: "application.instance", DataPath: "hostName", PortDataPath: "port.$"},
			eureka, "", []string{"http://e1.internal:80", "http://e2.internal:81"}},
		{"a single object, no port", apidef.ServiceDiscovery{DataPath: "service.url"},
			`{"service": {"url": "http://one.internal:81/base"}}`, "", []string{"http://one.internal:81/base"}},
		// Paths through lists read each element, as gabs does: the host is then a list, no string.
		{"a host that is a list", apidef.ServiceDiscovery{DataPath: "items.host"}, `{"items": [{"host": "a"}, {"host": "b"}]}`, "", nil},
		{"IPv6 addresses and ports that are no ports", apidef.ServiceDiscovery{EndpointReturnsList: true, UseTargetList: true, DataPath: "h", PortDataPath: "p"},
			`[{"h": "2001:db8::1", "p": 8080}, {"h": "x", "p": 70000}, {"h": "y", "p": -1}, {"h": "https://", "p": 443}, {"h": "z?q=1", "p": 1}, {"h": "w", "p": 8.0}]`,
			"", []string{"http://[2001:db8::1]:8080", "http://w:8"}},
		{"a bare IPv6 address, no port", apidef.ServiceDiscovery{EndpointReturnsList: true, UseTargetList: true, DataPath: "h"},
			`[{"h": "2001:db8::1"}, {"h": "[2001:db8::2]:81"}]`, "", []string{"http://[2001:db8::1]", "http://[2001:db8::2]:81"}},
		{"not a URL the gateway proxies to", apidef.ServiceDiscovery{EndpointReturnsList: true, UseTargetList: true, DataPath: "h"},
			`[{"h": "ftp://x"}, {"h": "http://user:pw@x"}, {"h": ""}, {"h": "h2c://fast:9"}]`, "", []string{"http://fast:9"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Targets(tc.sd, []byte(tc.answer), tc.protocol)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("targets %q, want none", got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("%q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := Targets(apidef.ServiceDiscovery{DataPath: "x"}, []byte("not json"), ""); err == nil {
		t.Error("an answer that is not JSON gave targets")
	}
	if _, err := Targets(apidef.ServiceDiscovery{EndpointReturnsList: true, DataPath: "x"}, []byte(`{"x": "h"}`), ""); err == nil {
		t.Error("endpoint_returns_list on an object gave targets")
	}
	big := "[" + strings.Repeat(`{"h": "x"},`, MaxTargets+5) + `{"h": "x"}]`
	if got, _ := Targets(apidef.ServiceDiscovery{EndpointReturnsList: true, UseTargetList: true, DataPath: "h"}, []byte(big), ""); len(got) != MaxTargets {
		t.Errorf("%d targets, want at most %d", len(got), MaxTargets)
	}
}

// TestFetch: only a 200 answer within the bound is read.
func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`[]`))
		case "/big":
			w.Write([]byte(strings.Repeat("x", MaxAnswer+1)))
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	slots := make(chan struct{}, 1)
	b, release, err := Fetch(context.Background(), srv.Client(), srv.URL+"/ok", time.Second, slots)
	if err != nil || string(b) != "[]" || len(slots) != 1 {
		t.Errorf("ok: %q %v, %d slots taken", b, err, len(slots))
	}
	// While the slot is taken, another answer is not read.
	if _, _, err := Fetch(context.Background(), srv.Client(), srv.URL+"/ok", 100*time.Millisecond, slots); err == nil {
		t.Error("an answer read with every slot taken")
	}
	release()
	for _, p := range []string{"/down", "/big"} {
		if _, _, err := Fetch(context.Background(), srv.Client(), srv.URL+p, time.Second, slots); err == nil {
			t.Errorf("%s: read", p)
		}
	}
	if len(slots) != 0 {
		t.Errorf("%d slots left taken after failed reads", len(slots))
	}
	if _, _, err := Fetch(context.Background(), srv.Client(), srv.URL+"/slow", 50*time.Millisecond, nil); err == nil {
		t.Error("an answer later than the timeout was read")
	}
}
