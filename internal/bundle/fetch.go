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

	"github.com/gatehouse/gatehouse/internal/regfile"
)

// FetchOptions configure a Fetcher.
type FetchOptions struct {
	// BaseURL is bundle_base_url: http, https or file.
	BaseURL string
	// InsecureSkipVerify turns off TLS certificate checks for https downloads, on the fetcher's
	// own transport only.
	InsecureSkipVerify bool
	// ProgressTimeout bounds how long the bundle server may stay silent during an attempt: to
	// connect and send its answer's header, and then between two reads of the body, so a
	// download that keeps progressing is never cut by it (30 s when 0: the gateway's
	// bundle_download_progress_timeout).
	ProgressTimeout time.Duration
	// AttemptTimeout bounds one attempt as a whole, however it progresses, so that a server
	// trickling a byte now and then cannot hold a transfer slot for ever. When 0, it is the time
	// MaxBytes takes at MinTransferRate, and at least MinAttemptTimeout: any bundle the size cap
	// allows downloads from a server that averages MinTransferRate or more.
	AttemptTimeout time.Duration
	// Attempts is how many attempts are made; MaxBytes bounds a download.
	Attempts int
	MaxBytes int64
	// Backoff is the wait before the second attempt, doubling after each.
	Backoff time.Duration
}

// errRedirect is a redirect to another host: refused, and not worth retrying.
var errRedirect = errors.New("refusing a redirect to another host")

// MinTransferRate and MinAttemptTimeout set the default AttemptTimeout: the time the size cap
// takes at 64 KiB/s (about 68 minutes for the default 256 MiB), and at least 10 minutes.
const (
	MinTransferRate   = 64 << 10
	MinAttemptTimeout = 10 * time.Minute
)

// DefaultProgressTimeout is ProgressTimeout's default.
const DefaultProgressTimeout = 30 * time.Second

// MaxResponseHeaderBytes bounds the status line and header fields of a bundle server's answer
// (64 KiB, against Go's 10 MiB default): a file server's answer needs a few hundred bytes, and
// a broken or hostile server cannot make the gateway buffer more than this before the body.
const MaxResponseHeaderBytes = 64 << 10

// Fetcher downloads bundles.
type Fetcher struct {
	o      FetchOptions
	base   *url.URL
	client *http.Client
	// slots holds a token per transfer under way, at most MaxTransfers; more wait their turn
	// (a fresh gateway whose APIs each name a bundle does not open as many connections). A
	// bundle waiting to try again holds none.
	slots chan struct{}
}

// MaxTransfers bounds the bundle transfers under way at once. Each streams into a file, so
// memory does not grow with their number or sizes; a slow bundle server holds one slot per
// transfer, for at most ProgressTimeout when it stops sending and AttemptTimeout when it trickles.
const MaxTransfers = 8

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
	if o.ProgressTimeout <= 0 {
		o.ProgressTimeout = DefaultProgressTimeout
	}
	if o.Attempts <= 0 {
		o.Attempts = 4
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 20
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = max(MinAttemptTimeout, time.Duration(o.MaxBytes/MinTransferRate)*time.Second)
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	// Its own transport: settings for bundles (TLS verification off, when asked) never leak into
	// the process-wide default that plugins and the proxy use. No http.Client.Timeout: it would
	// bound the whole transfer, body included, so a large bundle on a slow link could never
	// arrive; get bounds the server's silences and the attempt instead.
	tr := &http.Transport{
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout:    10 * time.Second,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify},
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}
	client := &http.Client{
		Transport: tr,
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
	return &Fetcher{o: o, base: base, client: client, slots: make(chan struct{}, MaxTransfers)}, nil
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

// FetchFile downloads a bundle into a new file in dir (named .download-*, which no bundle name
// is), retrying with backoff, and returns it open, with its size; a missing bundle (404) is not
// retried. The caller closes and removes it. The bundle is never held in memory.
func (f *Fetcher) FetchFile(ctx context.Context, dir, name string) (*os.File, int64, error) {
	if err := CheckBundleName(name); err != nil {
		return nil, 0, err
	}
	file, err := os.CreateTemp(dir, downloadPrefix+"*")
	if err != nil {
		return nil, 0, fmt.Errorf("downloading bundle %s: %w", name, err)
	}
	err = f.fetch(ctx, name, func() (io.Writer, error) {
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return file, file.Truncate(0)
	})
	var size int64
	if err == nil {
		size, err = file.Seek(0, io.SeekCurrent)
	}
	if err == nil {
		_, err = file.Seek(0, io.SeekStart)
	}
	if err != nil {
		file.Close()
		os.Remove(file.Name())
		return nil, 0, err
	}
	return file, size, nil
}

// downloadPrefix starts the names of the files bundles are downloaded into.
const downloadPrefix = ".download-"

// fetch downloads a bundle into the writer start returns, called again (to start afresh) before
// each attempt.
// The caller has checked name (CheckBundleName).
func (f *Fetcher) fetch(ctx context.Context, name string, start func() (io.Writer, error)) error {
	if f.base.Scheme == "file" {
		w, err := start()
		if err != nil {
			return err
		}
		return f.readFile(name, w)
	}
	wait := f.o.Backoff
	var last error
	for attempt := 1; attempt <= f.o.Attempts; attempt++ {
		w, err := start()
		if err != nil {
			return fmt.Errorf("downloading bundle %s: %w", name, err)
		}
		// A transfer slot for the attempt alone: a bundle waiting to try again holds none.
		select {
		case f.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		err, retry := f.get(ctx, name, w)
		<-f.slots
		if err == nil {
			return nil
		}
		last = err
		if !retry || attempt == f.o.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
	return fmt.Errorf("downloading bundle %s from %s: %w", name, f.URL(name), last)
}

// Causes of an attempt cut short by get's bounds.
var (
	errSilent      = errors.New("the bundle server is silent")
	errAttemptTime = errors.New("the attempt took too long")
)

func (f *Fetcher) get(ctx context.Context, name string, w io.Writer) (err error, retry bool) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// One watchdog for the server's silences: armed for the connection and the answer's header,
	// then re-armed by every read of the body that brings bytes. A second bounds the attempt.
	silence := time.AfterFunc(f.o.ProgressTimeout, func() { cancel(errSilent) })
	defer silence.Stop()
	whole := time.AfterFunc(f.o.AttemptTimeout, func() { cancel(errAttemptTime) })
	defer whole.Stop()
	// cut says why the attempt was cut short by a bound (ok false: it was not), and whether to
	// try again: a silent server may answer the next time; an attempt that used its whole time
	// would most likely use it again. received is what the body had brought, -1 before it.
	cut := func(received int64) (err error, retry, ok bool) {
		if ctx.Err() != nil {
			return nil, false, false
		}
		where := "while connecting and waiting for its answer"
		if received >= 0 {
			where = fmt.Sprintf("after %d bytes of the bundle", received)
		}
		switch context.Cause(actx) {
		case errSilent:
			return fmt.Errorf("the bundle server sent nothing for %v %s "+
				"(bundle_download_progress_timeout)", f.o.ProgressTimeout, where), true, true
		case errAttemptTime:
			return fmt.Errorf("the download was still under way after %v, the bound for one attempt, "+
				"%s; the bundle server is too slow", f.o.AttemptTimeout, where), false, true
		}
		return nil, false, false
	}

	req, err := http.NewRequestWithContext(actx, http.MethodGet, f.URL(name), nil)
	if err != nil {
		return err, false
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if cerr, retry, ok := cut(-1); ok {
			return cerr, retry
		}
		return err, ctx.Err() == nil && !errors.Is(err, errRedirect)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP status %d", resp.StatusCode), resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	}
	if resp.ContentLength > f.o.MaxBytes {
		return fmt.Errorf("the bundle is %d bytes, more than the limit of %d", resp.ContentLength, f.o.MaxBytes), false
	}
	silence.Reset(f.o.ProgressTimeout)
	body := &progressReader{r: io.LimitReader(resp.Body, f.o.MaxBytes+1), silence: silence, d: f.o.ProgressTimeout}
	n, err := io.Copy(w, body)
	if err != nil {
		if cerr, retry, ok := cut(n); ok {
			return cerr, retry
		}
		return err, true
	}
	if n > f.o.MaxBytes {
		return fmt.Errorf("the bundle is more than the limit of %d bytes", f.o.MaxBytes), false
	}
	return nil, false
}

// progressReader re-arms the silence watchdog whenever a read brings bytes.
type progressReader struct {
	r       io.Reader
	silence *time.Timer
	d       time.Duration
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.silence.Reset(p.d)
	}
	return n, err
}

func (f *Fetcher) readFile(name string, w io.Writer) error {
	// file://dir/bundles names a folder relative to the working directory (its "host" is the
	// first element), as Tyk reads it; file:///abs/bundles an absolute one.
	p := path.Join(f.base.Host+f.base.Path, name)
	// Not a named pipe or a device: such a "bundle" would hold its download for good.
	src, _, err := regfile.Open(p)
	if err != nil {
		return fmt.Errorf("reading bundle %s: %w", name, err)
	}
	defer src.Close()
	// Read with a bound, not from the size Stat gave: a file growing meanwhile is cut there.
	n, err := io.Copy(w, io.LimitReader(src, f.o.MaxBytes+1))
	if err != nil {
		return fmt.Errorf("reading bundle %s: %w", name, err)
	}
	if n > f.o.MaxBytes {
		return fmt.Errorf("bundle %s is more than the limit of %d bytes", name, f.o.MaxBytes)
	}
	return nil
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
