package main

import (
	"strings"
	"testing"
)

// stream is `go test -json` of: a package whose binary died in TestDies/inner (the race
// detector giving up), with TestFails failed before and TestPar1 paused; a package that passed,
// whose events come interleaved with the first's; a package where a data race report is filed
// under a test that passes (test2json files unframed output under the last test that printed);
// and one cut off (no result line).
const stream = `{"Action":"start","Package":"x/crash"}
{"Action":"run","Package":"x/crash","Test":"TestA"}
{"Action":"output","Package":"x/crash","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"x/crash","Test":"TestA","Output":"    a_test.go:1: a ok\n"}
{"Action":"pass","Package":"x/crash","Test":"TestA"}
{"Action":"run","Package":"x/ok","Test":"TestOK"}
{"Action":"output","Package":"x/ok","Test":"TestOK","Output":"    ok_test.go:1: chatter\n"}
{"Action":"run","Package":"x/crash","Test":"TestFails"}
{"Action":"output","Package":"x/crash","Test":"TestFails","Output":"=== RUN   TestFails\n"}
{"Action":"run","Package":"x/crash","Test":"TestFails/sub"}
{"Action":"output","Package":"x/crash","Test":"TestFails/sub","Output":"    a_test.go:2: sub failed\n"}
{"Action":"output","Package":"x/crash","Test":"TestFails/sub","Output":"--- FAIL: TestFails/sub (0.00s)\n"}
{"Action":"fail","Package":"x/crash","Test":"TestFails/sub"}
{"Action":"output","Package":"x/crash","Test":"TestFails","Output":"--- FAIL: TestFails (0.00s)\n"}
{"Action":"fail","Package":"x/crash","Test":"TestFails"}
{"Action":"pass","Package":"x/ok","Test":"TestOK"}
{"Action":"run","Package":"x/ok","Test":"TestSkipped"}
{"Action":"output","Package":"x/ok","Test":"TestSkipped","Output":"=== RUN   TestSkipped\n"}
{"Action":"output","Package":"x/ok","Test":"TestSkipped","Output":"    ok_test.go:5: redis-server is not installed\n"}
{"Action":"output","Package":"x/ok","Test":"TestSkipped","Output":"--- SKIP: TestSkipped (0.00s)\n"}
{"Action":"skip","Package":"x/ok","Test":"TestSkipped"}
{"Action":"output","Package":"x/ok","Output":"PASS\n"}
{"Action":"output","Package":"x/ok","Output":"ok  \tx/ok\t0.1s\n"}
{"Action":"pass","Package":"x/ok","Elapsed":0.1}
{"Action":"run","Package":"x/crash","Test":"TestPar1"}
{"Action":"pause","Package":"x/crash","Test":"TestPar1"}
{"Action":"run","Package":"x/crash","Test":"TestDies"}
{"Action":"output","Package":"x/crash","Test":"TestDies","Output":"=== RUN   TestDies\n"}
{"Action":"run","Package":"x/crash","Test":"TestDies/inner"}
{"Action":"output","Package":"x/crash","Test":"TestDies/inner","Output":"ThreadSanitizer: failed to restore address 0xfa0e20eae61\n"}
{"Action":"output","Package":"x/crash","Output":"FAIL\tx/crash\t0.009s\n"}
{"Action":"fail","Package":"x/crash","Elapsed":0.01}
go: a line that is no event
{"Action":"run","Package":"x/race","Test":"TestA"}
{"Action":"output","Package":"x/race","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"output","Package":"x/race","Test":"TestA","Output":"==================\n"}
{"Action":"output","Package":"x/race","Test":"TestA","Output":"WARNING: DATA RACE\n"}
{"Action":"output","Package":"x/race","Test":"TestA","Output":"Write at 0x00c000012345 by goroutine 8:\n"}
{"Action":"pass","Package":"x/race","Test":"TestA"}
{"Action":"run","Package":"x/race","Test":"TestB"}
{"Action":"output","Package":"x/race","Test":"TestB","Output":"    testing.go:1712: race detected during execution of test\n"}
{"Action":"output","Package":"x/race","Test":"TestB","Output":"--- FAIL: TestB (0.00s)\n"}
{"Action":"fail","Package":"x/race","Test":"TestB"}
{"Action":"output","Package":"x/race","Output":"FAIL\tx/race\t0.1s\n"}
{"Action":"fail","Package":"x/race"}
{"Action":"run","Package":"x/cut","Test":"TestHangs"}
{"Action":"output","Package":"x/cut","Test":"TestHangs","Output":"=== RUN   TestHangs\n"}
`

func TestRun(t *testing.T) {
	var out strings.Builder
	failed, err := run(strings.NewReader(stream), &out, false)
	if err != nil || !failed {
		t.Fatalf("failed %v, err %v", failed, err)
	}
	got := out.String()
	for _, want := range []string{
		// The passing package first (it ended first), then the crashed one's block, together:
		// the failed test, the crash from its first sign (filed under a test under way), the
		// result, the tests under way.
		"ok  \tx/ok\t0.1s\n" +
			"testlog: 1 skipped in x/ok: TestSkipped (ok_test.go:5: redis-server is not installed)\n" +
			"=== RUN   TestFails\n    a_test.go:2: sub failed\n--- FAIL: TestFails/sub (0.00s)\n--- FAIL: TestFails (0.00s)\n" +
			"=== RUN   TestDies\nThreadSanitizer: failed to restore address 0xfa0e20eae61\n" +
			"FAIL\tx/crash\t0.009s\n" +
			"testlog: x/crash failed while these tests were under way: TestDies, TestDies/inner, TestPar1 (paused)\n",
		"go: a line that is no event\n",
		// The race report filed under a test that passed.
		"==================\nWARNING: DATA RACE\nWrite at 0x00c000012345 by goroutine 8:\n",
		"--- FAIL: TestB (0.00s)\nFAIL\tx/race\t0.1s\n",
		"testlog: x/cut ended without a result while these tests were under way: TestHangs\ntestlog: the last lines of TestHangs:\n=== RUN   TestHangs\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"a ok", "chatter", "PASS\n"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("output holds %q, a passing test's line:\n%s", unwanted, got)
		}
	}

	// Everything passing: nothing failed; -v writes every line.
	out.Reset()
	passing := "{\"Action\":\"run\",\"Package\":\"x/ok\",\"Test\":\"TestOK\"}\n" +
		"{\"Action\":\"output\",\"Package\":\"x/ok\",\"Test\":\"TestOK\",\"Output\":\"    ok_test.go:1: chatter\\n\"}\n" +
		"{\"Action\":\"pass\",\"Package\":\"x/ok\",\"Test\":\"TestOK\"}\n" +
		"{\"Action\":\"pass\",\"Package\":\"x/ok\"}\n"
	failed, err = run(strings.NewReader(passing), &out, true)
	if err != nil || failed || !strings.Contains(out.String(), "chatter") {
		t.Errorf("a passing run, verbose: failed %v, err %v, output %q", failed, err, out.String())
	}
}
