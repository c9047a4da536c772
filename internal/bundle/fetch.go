package bundle

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"
)

// FetchOptions configure a Fetcher.
type FetchOptions struct {
	// BaseURL is bundle_base_url: http, https or file.
	BaseURL string
	// InsecureSkipVerify turns off TLS certificate checks for https downloads, on the fetcher's
	// own transport only.
	InsecureSkipVerify bool
	// Timeout bounds one attempt; Attempts is how many are made; MaxBytes bounds a download.
	Timeout  time.Duration
	Attempts int
	MaxBytes int64
	// Backoff is the wait before the second attempt, doubling after each.
	Backoff time.Duration
}

// errRedirect is a redirect to another host: refused, and not worth retrying.
var errRedirect = errors.New("refusing a redirect to another host")

// MaxResponseHeaderBytes bounds the status line and header fields of a bundle server's answer
// (64 KiB, against Go's 10 MiB default): a file server's answer needs a few hundred bytes, and
// a broken or hostile server cannot make the gateway buffer more than this before the body.
const MaxResponseHeaderBytes = 64 << 10

// Fetcher downloads bundles.
type Fetcher struct {
	o      FetchOptions
	base   *url.URL
	client *http.Client
}

// NewFetcher returns a Fetcher for a base URL.
func NewFetcher(o FetchOptions) (*Fetcher, error) {
	if o.BaseURL == "" {
		return nil, errors.New("bundle_base_url is not set, so bundles cannot be downloaded")
	}
	base, err := url.Parse(o.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("bundle_base_url: %w", err)
	}
	switch base.Scheme {
	case "http", "https", "file":
	default:
		return nil, fmt.Errorf("bundle_base_url: scheme %q is not http, https or file", base.Scheme)
	}
	if base.User != nil {
		return nil, errors.New("bundle_base_url must not hold a user name or password")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 4
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 20
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	// Its own transport: settings for bundles (TLS verification off, when asked) never leak into
	// the process-wide default that plugins and the proxy use.
	tr := &http.Transport{
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout:    10 * time.Second,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify},
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}
	client := &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != base.Scheme || req.URL.Host != base.Host {
				return fmt.Errorf("%w (%s)", errRedirect, req.URL.Host)
			}
			return nil
		},
	}
	return &Fetcher{o: o, base: base, client: client}, nil
}

// URL returns where a bundle is fetched from: the base URL with the name as one more path
// element.
func (f *Fetcher) URL(name string) string {
	u := *f.base
	u.Path = path.Join(u.Path, name)
	u.RawPath = ""
	return u.String()
}

// CloseIdleConnections closes the connections kept open for the next download: the bundle
// server would otherwise hold them (and the Fetcher two goroutines for each) until it hangs up.
func (f *Fetcher) CloseIdleConnections() { f.client.CloseIdleConnections() }

// Fetch downloads a bundle, retrying with backoff. A missing bundle (404) is not retried.
func (f *Fetcher) Fetch(ctx context.Context, name string) ([]byte, error) {
	if err := CheckBundleName(name); err != nil {
		return nil, err
	}
	if f.base.Scheme == "file" {
		return f.readFile(name)
	}
	wait := f.o.Backoff
	var last error
	for attempt := 1; attempt <= f.o.Attempts; attempt++ {
		data, err, retry := f.get(ctx, name)
		if err == nil {
			return data, nil
		}
		last = err
		if !retry || attempt == f.o.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
	return nil, fmt.Errorf("downloading bundle %s from %s: %w", name, f.URL(name), last)
}

func (f *Fetcher) get(ctx context.Context, name string) (data []byte, err error, retry bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL(name), nil)
	if err != nil {
		return nil, err, false
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err, ctx.Err() == nil && !errors.Is(err, errRedirect)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode), resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	}
	if resp.ContentLength > f.o.MaxBytes {
		return nil, fmt.Errorf("the bundle is %d bytes, more than the limit of %d", resp.ContentLength, f.o.MaxBytes), false
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, f.o.MaxBytes+1))
	if err != nil {
		return nil, err, true
	}
	if int64(len(data)) > f.o.MaxBytes {
		return nil, fmt.Errorf("the bundle is more than the limit of %d bytes", f.o.MaxBytes), false
	}
	return data, nil, false
}

func (f *Fetcher) readFile(name string) ([]byte, error) {
	// file://dir/bundles names a folder relative to the working directory (its "host" is the
	// first element), as Tyk reads it; file:///abs/bundles an absolute one.
	p := path.Join(f.base.Host+f.base.Path, name)
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("reading bundle %s: %w", name, err)
	}
	if fi.Size() > f.o.MaxBytes {
		return nil, fmt.Errorf("bundle %s is %d bytes, more than the limit of %d", name, fi.Size(), f.o.MaxBytes)
	}
	return os.ReadFile(p)
}

// CheckBundleName checks a bundle name from an API definition: one path element of letters,
// digits, '.', '_' and '-', so it can neither climb out of the base URL nor out of the cache.
func CheckBundleName(name string) error {
	if name == "" || len(name) > 255 || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return fmt.Errorf("bundle name %q is not a file name", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("bundle name %q may hold only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}
