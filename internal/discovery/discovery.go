// Package discovery reads an API's targets from a discovery service's JSON answer, as Tyk's
// service discovery does (proxy.service_discovery: Consul, etcd, Eureka, or any service
// answering JSON), and fetches that answer.
package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// MaxAnswer bounds a discovery service's answer: a catalog of a thousand services is a few
// hundred kilobytes, and decoding costs about a hundred times the answer's size.
const MaxAnswer = 1 << 20

// MaxTargets bounds the targets taken from one answer.
const MaxTargets = 1000

// Targets returns the targets answer describes, as URLs: each host found, with its port when
// port_data_path is set and target_path after it, with protocol's scheme ("http" when empty)
// when it has none. Hosts that are not strings, and targets that are not http(s) URLs with a
// host, are left out. Without use_target_list, only the first target is kept.
func Targets(sd apidef.ServiceDiscovery, answer []byte, protocol string) ([]string, error) {
	var doc any
	d := json.NewDecoder(bytes.NewReader(answer))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("the discovery service's answer is not JSON: %w", err)
	}
	var hosts []string
	switch {
	case sd.EndpointReturnsList:
		list, ok := doc.([]any)
		if !ok {
			return nil, errors.New("endpoint_returns_list is set but the answer is not a list")
		}
		for _, item := range list {
			hosts = append(hosts, hostOf(sd, item))
		}
	case sd.UseTargetList && sd.UseNestedQuery:
		sub, ok := nested(sd, doc)
		if !ok {
			break
		}
		if list, ok := sub.([]any); ok {
			for _, item := range list {
				hosts = append(hosts, object(sd, item))
			}
		} else {
			hosts = append(hosts, object(sd, sub))
		}
	case sd.UseTargetList:
		list, _ := path(doc, sd.ParentDataPath).([]any)
		for _, item := range list {
			hosts = append(hosts, hostOf(sd, item))
		}
	default:
		hosts = append(hosts, hostOf(sd, doc))
	}
	var out []string
	for _, h := range hosts {
		if h == "" {
			continue
		}
		u, ok := target(h+sd.TargetPath, protocol)
		if !ok {
			continue
		}
		out = append(out, u)
		if !sd.UseTargetList || len(out) == MaxTargets {
			break
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the discovery service's answer holds no target at data_path")
	}
	return out, nil
}

// hostOf reads one target of item: in the JSON string at parent_data_path with
// use_nested_query, else in item itself.
func hostOf(sd apidef.ServiceDiscovery, item any) string {
	if sd.UseNestedQuery {
		sub, ok := nested(sd, item)
		if !ok {
			return ""
		}
		return object(sd, sub)
	}
	return object(sd, item)
}

// nested decodes the JSON held in the string at parent_data_path of item.
func nested(sd apidef.ServiceDiscovery, item any) (any, bool) {
	s, ok := path(item, sd.ParentDataPath).(string)
	if !ok {
		return nil, false
	}
	var sub any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&sub); err != nil {
		return nil, false
	}
	return sub, true
}

// object reads the host at data_path of item, and its port at port_data_path when set.
func object(sd apidef.ServiceDiscovery, item any) string {
	host, ok := path(item, sd.DataPath).(string)
	if !ok || host == "" {
		return ""
	}
	if sd.PortDataPath == "" {
		return host
	}
	port := path(item, sd.PortDataPath)
	if l, ok := port.([]any); ok && len(l) > 0 {
		port = l[0]
	}
	var p string
	switch v := port.(type) {
	case string:
		p = v
	case json.Number:
		if n, err := v.Int64(); err == nil {
			p = strconv.FormatInt(n, 10)
		} else if f, err := v.Float64(); err == nil {
			p = strconv.Itoa(int(f))
		}
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strings.ContainsAny(host, "?#") {
		return ""
	}
	if strings.Contains(host, ":") && net.ParseIP(host) != nil {
		return net.JoinHostPort(host, p) // an IPv6 address, bracketed
	}
	return host + ":" + p
}

// path returns the value at a dotted path of v. Where the path meets a list, the rest of it is
// read in each element and the values found make a list, as Tyk's reading (gabs) does.
func path(v any, p string) any {
	if p == "" {
		return v
	}
	name, rest, more := strings.Cut(p, ".")
	switch x := v.(type) {
	case map[string]any:
		c, ok := x[name]
		if !ok {
			return nil
		}
		if !more {
			return c
		}
		return path(c, rest)
	case []any:
		var out []any
		for _, e := range x {
			if r := path(e, p); r != nil {
				out = append(out, r)
			}
		}
		if out == nil {
			return nil
		}
		return out
	}
	return nil
}

// target returns host as an upstream URL: with protocol's scheme when it has none (h2c read as
// http, as in Tyk); ok only for an http or https URL with a host and no user.
func target(host, protocol string) (string, bool) {
	host = strings.TrimSpace(host)
	if !strings.Contains(host, "://") {
		if protocol == "" {
			protocol = "http"
		}
		// A bare IPv6 address (no port to join it with) is bracketed, as a URL's host must be.
		if a, err := netip.ParseAddr(host); err == nil && a.Is6() && a.Zone() == "" {
			host = "[" + host + "]"
		}
		host = protocol + "://" + host
	}
	u, err := url.Parse(host)
	if err != nil || u.Hostname() == "" || u.User != nil || u.Fragment != "" {
		return "", false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", false
		}
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "h2c":
		u.Scheme = "http"
	default:
		return "", false
	}
	return u.String(), true
}

// Fetch gets the discovery service's answer from endpoint, within timeout; anything but a 200 is
// an error, and an answer over MaxAnswer too. slots, when not nil, bounds the answers read and
// decoded at once: one is taken once the answer's head has come, and the caller gives it back
// when it has decoded the answer (release; a no-op without slots).
func Fetch(ctx context.Context, client *http.Client, endpoint string, timeout time.Duration, slots chan struct{}) (body []byte, release func(), err error) {
	release = func() {}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, release, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return nil, release, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, release, fmt.Errorf("the discovery service answered %s", res.Status)
	}
	if slots != nil {
		select {
		case slots <- struct{}{}:
			release = func() { <-slots }
		case <-ctx.Done():
			return nil, release, errors.New("too many discovery services' answers are being read at once")
		}
	}
	body, err = io.ReadAll(io.LimitReader(res.Body, MaxAnswer+1))
	if err == nil && len(body) > MaxAnswer {
		err = fmt.Errorf("the discovery service's answer is over %d bytes", MaxAnswer)
	}
	if err != nil {
		release()
		return nil, func() {}, err
	}
	return body, release, nil
}
