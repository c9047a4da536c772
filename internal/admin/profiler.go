package admin

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ProfilerPath is where enable_http_profiler serves Go's profiles, as in Tyk.
const ProfilerPath = "/debug/pprof/"

// Bounds of the seconds a CPU profile or an execution trace runs for.
const (
	defaultProfileSeconds = 30
	maxProfileSeconds     = 300
)

// profileWriteStall is how long one write of a CPU profile or trace may wait for its client,
// when the listener sets no write timeout. The runtime's writer waits for each write, and
// stopping waits for the writer: a client that stops reading would otherwise hold the process's
// one profile, or trace, and let the trace's buffers grow.
var profileWriteStall = 3 * time.Second

// profileAbout describes the profiles runtime/pprof keeps, for the index.
var profileAbout = map[string]string{
	"allocs":       "every allocation sampled since the start (go tool pprof -sample_index=alloc_space)",
	"block":        "where goroutines blocked; empty: the gateway does not sample blocking",
	"goroutine":    "the stacks of every goroutine (?debug=2 for text)",
	"heap":         "the live heap as of the last collection (?gc=1 collects first)",
	"mutex":        "contended mutexes; empty: the gateway does not sample contention",
	"threadcreate": "the stacks that created OS threads",
}

// profiler serves Go's profiles under ProfilerPath: an index, the profiles runtime/pprof keeps
// by name, a CPU profile (profile?seconds=N) and an execution trace (trace?seconds=N). It
// writes no handler into http.DefaultServeMux, as importing net/http/pprof would: a plugin
// serving that mux would otherwise expose the profiles without the secret.
func (s *Server) profiler(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path+"/" == ProfilerPath:
		http.Redirect(w, r, ProfilerPath, http.StatusMovedPermanently)
		return
	case r.Method != http.MethodGet:
		// HEAD too: a profile or trace would run its whole time for an answer with no body.
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "profiles are read with GET")
		return
	case r.ContentLength != 0 || len(r.TransferEncoding) > 0:
		// Go notices a client that leaves only once the request's body has been read: a body
		// could keep a CPU profile running after its client has gone.
		writeError(w, http.StatusBadRequest, "a profile request has no body")
		return
	}
	name := strings.TrimPrefix(r.URL.Path, ProfilerPath)
	switch name {
	case "":
		s.profileIndex(w)
	case "profile":
		s.timedProfile(w, r, "CPU profile", func(w io.Writer) error { return pprof.StartCPUProfile(w) }, pprof.StopCPUProfile)
	case "trace":
		s.timedProfile(w, r, "execution trace", trace.Start, trace.Stop)
	default:
		s.namedProfile(w, r, name)
	}
}

func (s *Server) profileIndex(w http.ResponseWriter) {
	var b strings.Builder
	b.WriteString("Go's profiles of this gateway. Each needs the X-Tyk-Authorization header; save one and read it with go tool pprof FILE (go tool trace FILE for the trace).\n\n")
	profiles := pprof.Profiles()
	sort.Slice(profiles, func(i, j int) bool { return profiles[i].Name() < profiles[j].Name() })
	for _, p := range profiles {
		fmt.Fprintf(&b, "%s%-14s %6d  %s\n", ProfilerPath, p.Name(), p.Count(), profileAbout[p.Name()])
	}
	fmt.Fprintf(&b, "%s%-14s %6s  CPU profile over ?seconds=N (default %d, at most %d)\n", ProfilerPath, "profile", "", defaultProfileSeconds, maxProfileSeconds)
	fmt.Fprintf(&b, "%s%-14s %6s  execution trace over ?seconds=N (default %d, at most %d); megabytes a second under load\n", ProfilerPath, "trace", "", defaultProfileSeconds, maxProfileSeconds)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, b.String())
}

// namedProfile writes one of runtime/pprof's profiles: ?debug=N as text (0, the default, is the
// binary form go tool pprof reads), ?gc=1 to collect before writing the heap profile.
func (s *Server) namedProfile(w http.ResponseWriter, r *http.Request, name string) {
	p := pprof.Lookup(name)
	if p == nil {
		writeError(w, http.StatusNotFound, "no profile named "+strconv.Quote(name)+"; GET "+ProfilerPath+" lists them")
		return
	}
	q := r.URL.Query()
	debug := 0
	if v := q.Get("debug"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 2 {
			writeError(w, http.StatusBadRequest, "debug must be 0 (binary, for go tool pprof), 1 or 2 (text)")
			return
		}
		debug = n
	}
	if v := q.Get("gc"); v != "" {
		gc, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "gc must be 1 or 0")
			return
		}
		if gc && name == "heap" {
			runtime.GC()
		}
	}
	// Written to memory first, so a failure is an error reply rather than half a profile.
	var buf bytes.Buffer
	if err := p.WriteTo(&buf, debug); err != nil {
		writeError(w, http.StatusInternalServerError, "writing the "+name+" profile failed: "+err.Error())
		return
	}
	profileHeaders(w, name, debug == 0)
	_, _ = w.Write(buf.Bytes())
}

// timedProfile runs a CPU profile or an execution trace for ?seconds=N, or until the client
// goes away, writing it to the reply as it comes. Only one of each runs at a time in a process,
// so a second asks again later (409), as does one while gatehouse start --cpuprofile or --trace
// records.
func (s *Server) timedProfile(w http.ResponseWriter, r *http.Request, what string, start func(io.Writer) error, stop func()) {
	secs := defaultProfileSeconds
	if v := r.URL.Query().Get("seconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxProfileSeconds {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("seconds must be a whole number from 1 to %d", maxProfileSeconds))
			return
		}
		secs = n
	}
	d := time.Duration(secs) * time.Second
	if wt := s.o.WriteTimeout; wt > 0 && d >= wt {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("a %s of %d s would outlast http_server_options.write_timeout (%v): ask for fewer seconds", what, secs, wt))
		return
	}
	// The headers go out with the first byte the runtime writes; set here, on this goroutine,
	// they are taken back if it refuses to start (neither runtime writes a byte then).
	profileHeaders(w, strings.TrimPrefix(r.URL.Path, ProfilerPath), true)
	out := &stallWriter{w: w, failed: make(chan struct{})}
	if s.o.WriteTimeout == 0 {
		// With write_timeout set, the listener's deadline bounds every write already.
		out.rc, out.stall = http.NewResponseController(w), profileWriteStall
	}
	if err := start(out); err != nil {
		w.Header().Del("Content-Disposition")
		w.Header().Del("Cache-Control")
		writeError(w, http.StatusConflict, "cannot start a "+what+": "+err.Error()+
			" (one is already running: another request, or gatehouse start --cpuprofile or --trace); try again when it ends")
		return
	}
	s.o.Logger.Info("profiler: "+what+" started", "seconds", secs, "remote_addr", r.RemoteAddr)
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
	case <-out.failed: // the client stopped reading, or went away mid-write
		t.Stop()
	}
	stop()
	if out.err != nil || r.Context().Err() != nil {
		s.o.Logger.Info("profiler: "+what+" cut short: the client went away or stopped reading", "remote_addr", r.RemoteAddr, "error", out.err)
	}
}

// stallWriter bounds each write by stall (through rc) when set, and keeps the first write
// error: the writes after it fail at once, so the runtime drains what it has and stops without
// waiting on the client.
type stallWriter struct {
	w      io.Writer
	rc     *http.ResponseController
	stall  time.Duration
	err    error
	failed chan struct{} // closed at the first write error
}

func (s *stallWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.rc != nil {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.stall))
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
		close(s.failed)
	}
	return n, err
}

func profileHeaders(w http.ResponseWriter, name string, binary bool) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if !binary {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		return
	}
	h.Set("Content-Type", "application/octet-stream")
	if strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
		name = "profile" // a profile a plugin registered under a name unfit for a file
	}
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
}
