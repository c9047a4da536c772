package apistore_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apistore"
	"reflect"
)

// TestLoadMemo: LoadMemo decodes only what changed. An unchanged Classic file is not decoded
// (its Head is the one remembered, and Def decodes it when asked, to the same definition), an
// unchanged Tyk OAS document gets the entry decoded before (the same Def and document), a changed
// file a new decode, a removed one is forgotten, and a Classic file that sets is_oas (two files)
// and a broken file are decoded on every load.
func TestLoadMemo(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "oas-apps")
	files, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		writeFile(t, dir, f.Name(), readFile(t, filepath.Join(src, f.Name())))
	}
	d := apistore.New(dir)
	m := &apistore.Memo{}
	byName := func(entries []apistore.Entry) map[string]apistore.Entry {
		out := map[string]apistore.Entry{}
		for _, e := range entries {
			out[filepath.Base(e.File)] = e
		}
		return out
	}
	load := func() map[string]apistore.Entry {
		t.Helper()
		entries, err := d.LoadMemo(m)
		if err != nil {
			t.Fatal(err)
		}
		return byName(entries)
	}
	first := load()
	second := load()
	if len(first) != len(second) {
		t.Fatalf("the second load has %d entries, the first %d", len(second), len(first))
	}
	for _, name := range []string{"classic.json", "single.json"} {
		a, b := first[name], second[name]
		if !apistore.Decoded(a) {
			t.Errorf("%s: the first load did not decode it", name)
		}
		if !bytes.Equal(a.Raw, b.Raw) || len(b.Raw) == 0 {
			t.Errorf("%s unchanged: Raw %q then %q", name, a.Raw, b.Raw)
		}
		if !reflect.DeepEqual(a.Head, b.Head) || b.Head.APIID == "" {
			t.Errorf("%s unchanged: Head %+v then %+v", name, a.Head, b.Head)
		}
	}
	if c := second["classic.json"]; apistore.Decoded(c) {
		t.Error("classic.json unchanged was decoded again")
	} else if a, b := first["classic.json"], c.Def(); b == nil || !reflect.DeepEqual(a.Def(), b) {
		t.Errorf("classic.json unchanged: Def() gives %+v, want %+v", b, a.Def())
	}
	if a, b := first["single.json"], second["single.json"]; a.Def() != b.Def() {
		t.Error("a lone OAS document unchanged did not keep its decoded definition")
	}
	if first["single.json"].OAS == nil || first["single.json"].OAS != second["single.json"].OAS {
		t.Error("a lone OAS document unchanged did not keep its document")
	}
	if p, q := first["pets.json"], second["pets.json"]; p.Def() == nil || p.OAS == nil || !apistore.Decoded(q) || p.Def() == q.Def() {
		t.Error("a Classic file with its OAS document was not decoded again (its document is another file)")
	}
	if first["broken.json"].Err == nil || second["broken.json"].Err == nil {
		t.Error("a broken file decoded on a second load")
	}
	plain, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	if p := byName(plain)["single.json"]; p.Def() == second["single.json"].Def() || !apistore.Decoded(byName(plain)["classic.json"]) {
		t.Error("Load without a memo shares the memo's definitions, or leaves one undecoded")
	}

	// Changed: decoded again, with the new content.
	classic := readFile(t, filepath.Join(dir, "classic.json"))
	changed := bytes.Replace([]byte(classic), []byte(`"use_keyless": true`), []byte(`"use_keyless": false`), 1)
	if bytes.Equal(changed, []byte(classic)) {
		t.Fatal("the fixture classic.json does not set use_keyless: true")
	}
	writeFile(t, dir, "classic.json", string(changed))
	third := load()
	if c := third["classic.json"]; !apistore.Decoded(c) || c.Def().UseKeylessAccess || !bytes.Equal(c.Raw, changed) {
		t.Errorf("a changed file: decoded %v, use_keyless %v, want a new decode of the new content", apistore.Decoded(c), c.Def().UseKeylessAccess)
	}

	// Removed, then written back: forgotten in between, so decoded anew.
	single := readFile(t, filepath.Join(dir, "single.json"))
	if err := os.Remove(filepath.Join(dir, "single.json")); err != nil {
		t.Fatal(err)
	}
	if _, ok := load()["single.json"]; ok {
		t.Fatal("a removed file is still loaded")
	}
	writeFile(t, dir, "single.json", single)
	if s := load()["single.json"]; s.Def() == nil || s.Def() == second["single.json"].Def() {
		t.Error("a file written back after its removal got the entry remembered from before")
	}
}

// TestLoadLargeFile: a definition larger than the reader's first buffer (64 KiB) is read whole.
func TestLoadLargeFile(t *testing.T) {
	dir := t.TempDir()
	name := strings.Repeat("n", 200<<10)
	content := `{"api_id": "big", "name": "` + name + `", "proxy": {"listen_path": "/big/", "target_url": "http://a.test"}}`
	writeFile(t, dir, "big.json", content)
	entries, err := apistore.New(dir).LoadMemo(&apistore.Memo{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("loaded %d entries, want 1", len(entries))
	}
	if e := entries[0]; e.Err != nil || string(e.Raw) != content || e.Def().Name != name {
		t.Fatalf("err %v, %d bytes read of %d", e.Err, len(e.Raw), len(content))
	}
}

// TestLoadUnreadableFile: a *.json that cannot be read (here a directory) is an entry with its
// error, and the other files load.
func TestLoadUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "a.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "b.json", `{"api_id": "b", "proxy": {"listen_path": "/b/", "target_url": "http://a.test"}}`)
	entries, err := apistore.New(dir).LoadMemo(&apistore.Memo{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Err == nil || !strings.Contains(entries[0].Err.Error(), "a.json") || entries[1].Err != nil {
		t.Fatalf("entries %+v, want a.json with an error naming it and b.json loaded", entries)
	}
}

// TestLoadMemoConcurrentLoads: loads through one Memo at the same time (a reload, a Gateway API
// write and GET /tyk/apis each load app_path) leave it remembering every file: after any round
// of them, a load decodes none of the unchanged files again.
func TestLoadMemoConcurrentLoads(t *testing.T) {
	dir := t.TempDir()
	const files = 200
	for i := range files {
		writeFile(t, dir, fmt.Sprintf("api-%03d.json", i), fmt.Sprintf(
			`{"api_id": "api-%03d", "name": "api %d", "proxy": {"listen_path": "/api-%03d/", "target_url": "http://127.0.0.1:9"}}`, i, i, i))
	}
	d := apistore.New(dir)
	m := &apistore.Memo{}
	for round := range 20 {
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if _, err := d.LoadMemo(m); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		entries, err := d.LoadMemo(m)
		if err != nil {
			t.Fatal(err)
		}
		decoded := 0
		for _, e := range entries {
			if e.Err != nil || e.Head.APIID == "" {
				t.Fatalf("round %d: %s: err %v, head %+v", round, e.File, e.Err, e.Head)
			}
			if apistore.Decoded(e) {
				decoded++
			}
		}
		if decoded > 0 {
			t.Fatalf("round %d: after two loads at once, the memo had forgotten %d of %d unchanged files", round, decoded, files)
		}
	}
}

// TestWritesReadOnlyChangedFiles: the reads of writes (SaveChecked and the others, through a
// memo) read only the files whose status changed since they were read, once settled: a bulk of
// writes through the Gateway API does not read the whole directory for each. A file edited in
// place is read again (its ctime moved, even once settled), and one changed too recently to vouch for is read on
// every write.
func TestWritesReadOnlyChangedFiles(t *testing.T) {
	apistore.SetSettleTime(t, 500*time.Millisecond)
	dir := t.TempDir()
	for i := range 50 {
		writeFile(t, dir, fmt.Sprintf("a%d.json", i), def(fmt.Sprintf("a%d", i)))
	}
	time.Sleep(600 * time.Millisecond) // settled
	d := apistore.New(dir)
	m := &apistore.Memo{}
	d.UseMemo(m)
	var heads map[string]string
	save := func(id string) {
		t.Helper()
		_, err := d.SaveChecked(id, []byte(def(id)), func(stored []apistore.Entry) error {
			heads = map[string]string{}
			for _, e := range stored {
				heads[e.Head.APIID] = e.Head.ListenPath
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	save("new1")
	if n := m.LastReads(); n != 50 {
		t.Errorf("the first write read %d files, want all 50", n)
	}
	save("new2")
	if n := m.LastReads(); n > 1 {
		t.Errorf("the second write read %d files, want at most 1 (new1.json, too new to vouch for)", n)
	}
	// Edited in place (same inode, same size): read again, and seen as it is now.
	edited := strings.Replace(def("a7"), `"/a7/"`, `"/b7/"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "a7.json"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // settled: its status is vouched for, and not the one recorded
	save("new3")
	if heads["a7"] != "/b7/" || heads["a8"] != "/a8/" || len(heads) != 52 {
		t.Errorf("the third write saw a7 at %q, a8 at %q, %d APIs", heads["a7"], heads["a8"], len(heads))
	}
	if n := m.LastReads(); n > 3 {
		t.Errorf("the third write read %d files, want at most 3 (new1, new2, the edited a7)", n)
	}
	// A reload (LoadMemo) still has every file's content.
	entries, err := d.LoadMemo(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if len(e.Raw) == 0 || e.Err != nil {
			t.Errorf("%s: reloaded without its content (%v)", e.File, e.Err)
		}
	}
	// The statuses outlive the reload: the next write reads only new3.json, too new.
	save("new4")
	if n := m.LastReads(); n > 1 {
		t.Errorf("the write after a reload read %d files, want at most 1 (new3.json)", n)
	}
	// Nothing settles within an hour: every write reads every file.
	apistore.SetSettleTime(t, time.Hour)
	save("new5")
	if n := m.LastReads(); n != 54 {
		t.Errorf("with nothing settled a write read %d files, want 54", n)
	}
}

// BenchmarkSaveChecked measures a write through the Gateway API's store with 5,000 files in
// app_path, settled (the reads of writes read none of them) or not (they read them all).
func BenchmarkSaveChecked(b *testing.B) {
	for _, settled := range []bool{true, false} {
		b.Run(fmt.Sprintf("settled=%v", settled), func(b *testing.B) {
			dir := b.TempDir()
			for i := range 5000 {
				writeFile(b, dir, fmt.Sprintf("a%d.json", i), def(fmt.Sprintf("a%d", i)))
			}
			if settled {
				apistore.SetSettleTime(b, 0)
			} else {
				apistore.SetSettleTime(b, time.Hour)
			}
			d := apistore.New(dir)
			d.UseMemo(&apistore.Memo{})
			raw := []byte(def("w"))
			for b.Loop() {
				if _, err := d.SaveChecked("w", raw, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
