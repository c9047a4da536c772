package compiler

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// compatWorkspace writes the gateway's source and every compat module, tests included, into a
// workspace, as a build would.
func compatWorkspace(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	if err := writeFS(gatehouse.Source, filepath.Join(ws, "gateway")); err != nil {
		t.Fatal(err)
	}
	all := &tykUse{tyk: true, pump: true, log: true}
	if err := writeCompat(gatehouse.Compat, ws, all, true); err != nil {
		t.Fatal(err)
	}
	// The workspace always uses ./plugin: an empty module stands in.
	if err := os.MkdirAll(filepath.Join(ws, "plugin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "plugin", "go.mod"), []byte("module example.com/none\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, m := range all.modules() {
		dirs = append(dirs, m[0])
	}
	if _, err := writeWorkspace(ws, strings.TrimPrefix(goVersion(t), "go"), dirs...); err != nil {
		t.Fatal(err)
	}
	return ws
}

func goVersion(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func goIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// TestCompat vets and tests the compatibility packages where plugins get them: in a workspace
// with the gateway's source (they are kept out of the gateway's own builds). The logrus bridge
// needs logrus from the module cache or proxy when neither has it.
func TestCompat(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet and go test in a workspace")
	}
	ws := compatWorkspace(t)
	for _, dir := range []string{"tyk", "tyk-pump"} {
		goIn(t, filepath.Join(ws, dir), "vet", "./...")
		t.Log(goIn(t, filepath.Join(ws, dir), "test", "-count=1", "./..."))
	}
	if bench := os.Getenv("GATEHOUSE_COMPAT_BENCH"); bench != "" {
		t.Log(goIn(t, filepath.Join(ws, "tyk"), "test", "-run=^$", "-bench="+bench, "-benchmem", "./ctx"))
	}
	dl := exec.Command("go", "mod", "download", "github.com/sirupsen/logrus")
	dl.Dir = filepath.Join(ws, "tyk", "log")
	if out, err := dl.CombinedOutput(); err != nil {
		// CI has the Go proxy and sets GATEHOUSE_REQUIRE_GOPROXY, so that there the test
		// never passes by skipping.
		if os.Getenv("GATEHOUSE_REQUIRE_GOPROXY") != "" {
			t.Fatalf("logrus is not available and GATEHOUSE_REQUIRE_GOPROXY is set (%v: %s)", err, out)
		}
		t.Skipf("logrus is not available (%v: %s): the log package is not checked", err, out)
	}
	goIn(t, filepath.Join(ws, "tyk", "log"), "vet", "./...")
}

// TestScanTyk: what a plugin takes from Tyk's modules is read from its go.mod and imports, and
// packages the compiler does not provide are named before compiling.
func TestScanTyk(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.go", "package main\n\nimport (\n\t\"github.com/TykTechnologies/tyk/ctx\"\n\t\"github.com/TykTechnologies/tyk/config\"\n\t\"github.com/TykTechnologies/tyk/storage\"\n\t\"github.com/TykTechnologies/tyk/apidef/oas\"\n\t\"github.com/TykTechnologies/tyk/request\"\n)\n")
	write("a_test.go", "package main\n\nimport _ \"github.com/TykTechnologies/tyk-pump/analytics\"\n")
	u, err := scanTyk(dir, []byte("module x\n\ngo 1.26\n\nrequire github.com/TykTechnologies/tyk v1.9.2\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	if !u.tyk || u.pump || u.log || u.required[TykModule] != "v1.9.2" {
		t.Errorf("use %+v", u)
	}
	err = u.check()
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	for _, want := range []string{"package github.com/TykTechnologies/tyk/config (imported by main.go): not provided; plugins read their settings from ctx.GetDefinition(r).ConfigData",
		"package github.com/TykTechnologies/tyk/storage (imported by main.go): not provided", "emulates Tyk v5.14.0", "github.com/TykTechnologies/tyk/ctx: GetSession",
		"github.com/TykTechnologies/tyk/request: RealIP"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "apidef/oas (imported") || strings.Contains(msg, "tyk/request (imported") {
		t.Errorf("apidef/oas or request is refused:\n%s", msg)
	}
	if u, _ := scanTyk(dir, nil, true); !u.pump {
		t.Error("the test file's import of tyk-pump was not seen")
	}
}

// TestExplainTyk maps the compiler's errors about Tyk names to a clear message.
func TestExplainTyk(t *testing.T) {
	out := `./main.go:10:9: undefined: ctx.GetErrorClassification
./main.go:11:9: undefined: oas.NewPaths2
./main.go:11:30: doc.Validate undefined (type *oas.OAS has no field or method Validate)
./main.go:13:12: x.ErrorOverrides undefined (type *oas.XTykAPIGateway has no field or method ErrorOverrides)
./main.go:12:20: record.Geo undefined (type *sdk.AnalyticsRecord has no field or method Geo)
./main.go:14:2: unknown field ThrottleLevel in struct literal of type user.SessionState
./main.go:15:30: too many arguments in call to ctx.SetSession
./auth/auth.go:42:29: cannot use key (variable of type string) as bool value in argument to ctx.SetSession`
	err := explainTyk(out)
	if err == nil {
		t.Fatal("not explained")
	}
	for _, want := range []string{"ctx.GetErrorClassification: not provided", "analytics.AnalyticsRecord.Geo: not provided",
		"oas.NewPaths2: not provided", "oas.OAS.Validate: not provided", "oas.XTykAPIGateway.ErrorOverrides: not provided",
		"user.SessionState.ThrottleLevel: not provided", "before 4.0.1", "the compiler said:",
		"ctx.SetSession(r, session, token, scheduleUpdate) (main.go:15)", "ctx.SetSession(r, session, token, scheduleUpdate) (auth.go:42)",
		"write `session.KeyID = token` and call `ctx.SetSession(r, session, scheduleUpdate)`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	if explainTyk("./main.go:3:1: syntax error") != nil {
		t.Error("an unrelated error was explained")
	}
}
