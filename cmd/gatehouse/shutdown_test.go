package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShutdownCutAtGraceTimeout covers R1's deadline: with graceful_shutdown_timeout_duration 1,
// SIGTERM while one request is held by an upstream that never answers and another streams a
// response that would go on for minutes. The gateway stops accepting, waits the grace period for
// them, then closes their connections (Server.Run logs the cut) and exits with status 0 (a cut is
// not a failure of the gateway: cmdStart exits 1 only when serving or closing failed). So the
// process must exit no sooner than the grace period after the signal, and well before either
// request could have ended on its own; the streaming client must have been receiving chunks when
// the signal came and see its response cut (no terminating chunk), not completed.
func TestShutdownCutAtGraceTimeout(t *testing.T) {
	const grace = time.Second
	arrived := make(chan string, 2)
	stop := make(chan struct{}) // closed at the end of the test, to free the upstream handlers
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Path
		if r.URL.Path == "/stream" {
			// A chunk every 50 ms for two minutes, flushed as it is written.
			for i := 0; i < 2400; i++ {
				if _, err := fmt.Fprintf(w, "chunk %d\n", i); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-time.After(50 * time.Millisecond):
				case <-r.Context().Done():
					return
				case <-stop:
					return
				}
			}
			return
		}
		select { // never answers
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer up.Close()
	defer close(stop)

	dir := t.TempDir()
	apps := filepath.Join(dir, "apps")
	os.Mkdir(apps, 0o755)
	writeAPI(t, apps, "up", "/up/", up.URL)
	p := startProc(t, func(port int) ([]string, []string) {
		conf := writeConf(t, dir, map[string]any{
			"listen_port": port, "control_api_port": 0, "app_path": "apps",
			"graceful_shutdown_timeout_duration": int(grace / time.Second),
			// Neither request may end on a timeout of its own before the test is over.
			"proxy_default_timeout": 600,
		})
		return nil, []string{"start", "--conf", conf}
	})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	held := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + p.addr + "/up/held")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			err = fmt.Errorf("answered %d %q", resp.StatusCode, b)
		}
		held <- err
	}()
	resp, err := client.Get("http://" + p.addr + "/up/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: status %d", resp.StatusCode)
	}
	for i := 0; i < 2; i++ {
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			t.Fatal("the requests did not reach the upstream")
		}
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "chunk 0\n" {
		t.Fatalf("first chunk %q, %v", line, err)
	}
	// The rest of the stream is read beside: how many chunks came, and how it ended.
	streamEnd := make(chan error, 1)
	chunks := make(chan int, 1)
	go func() {
		n := 1
		for {
			if _, err := br.ReadString('\n'); err != nil {
				chunks <- n
				streamEnd <- err
				return
			}
			n++
		}
	}()

	signalled := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	select {
	case exitErr = <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("gatehouse did not exit within 30s of SIGTERM with a %v grace period", grace)
	}
	took := time.Since(signalled)
	if code := exitCode(exitErr); code != 0 {
		t.Errorf("exit: %v (status %d), want status 0", exitErr, code)
	}
	// Bounds: no sooner than the grace period (the requests never end on their own), and long
	// before the stream's two minutes; 15s leaves room for a loaded machine and -race.
	if took < grace || took > grace+15*time.Second {
		t.Errorf("exited %v after SIGTERM, want between %v and %v", took.Round(time.Millisecond), grace, grace+15*time.Second)
	}
	if out := p.out.String(); !strings.Contains(out, "requests still in flight at the end of the grace period were cut") {
		t.Errorf("the cut was not logged:\n%s", out)
	}

	select {
	case err := <-streamEnd:
		n := <-chunks
		t.Logf("exited %v after SIGTERM; the stream ended after %d chunks with %v", took.Round(time.Millisecond), n, err)
		if err == nil || errors.Is(err, io.EOF) {
			t.Errorf("the stream ended with %v after %d chunks, want it cut (unexpected EOF or a reset)", err, n)
		}
		// 50 ms a chunk: a stream that ran past the exit would hold far more.
		if max := int((took+grace)/(50*time.Millisecond)) + 20; n > max {
			t.Errorf("the stream delivered %d chunks, more than the %d it could before the exit", n, max)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stream was still open 10s after the process exited")
	}
	select {
	case err := <-held:
		if err == nil || strings.HasPrefix(err.Error(), "answered") {
			t.Errorf("the held request: %v, want its connection cut", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the held request was still open 10s after the process exited")
	}
}

// exitCode returns a finished process's exit status, or -1 when it did not exit by itself.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
