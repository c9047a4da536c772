package gateway_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/sdk"
)

// analyticsFile returns a file of the test's for analytics records and the gt.Options Config
// that turns analytics on, written there (with the memory store): readRecords reads them.
func analyticsFile(t *testing.T) (file string, on func(*config.Config)) {
	file = filepath.Join(t.TempDir(), "analytics.jsonl")
	return file, func(c *config.Config) {
		c.EnableAnalytics = true
		c.AnalyticsConfig.FilePath = file
	}
}

// readRecords waits for the analytics file to hold want records, then a moment more so that
// stray records show up too, and returns what it holds.
func readRecords(t *testing.T, file string, want int) []sdk.AnalyticsRecord {
	t.Helper()
	read := func() []sdk.AnalyticsRecord {
		data, _ := os.ReadFile(file)
		var out []sdk.AnalyticsRecord
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var r sdk.AnalyticsRecord
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("bad record %s: %v", line, err)
			}
			out = append(out, r)
		}
		return out
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if len(read()) >= want {
			time.Sleep(200 * time.Millisecond)
			break
		}
	}
	return read()
}
