// Package apistore keeps API definitions as Tyk Classic JSON files in a directory (the gateway's
// app_path): every `*.json` file there is one definition. The gateway reads the directory on
// each reload; the Gateway API writes through it.
package apistore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/jsonerr"
)

// Entry is one definition file.
type Entry struct {
	// File is the file's path.
	File string
	// Raw is the file's content.
	Raw []byte
	// Def is the decoded definition, nil when Err is set.
	Def *apidef.APIDefinition
	// Err says why the file could not be decoded.
	Err error
}

// Dir is a directory of definition files.
type Dir struct {
	path string
	mu   sync.Mutex // serialises writes
}

// New returns the store for the directory path.
func New(path string) *Dir { return &Dir{path: path} }

// Path returns the directory.
func (d *Dir) Path() string { return d.path }

// ErrNotFound is returned for an API id no file defines.
var ErrNotFound = errors.New("API not found")

// Load reads every `*.json` file in the directory, sorted by name. A file that cannot be read or
// decoded is returned with Err set; the others still load. A missing directory holds no
// definitions.
func (d *Dir) Load() ([]Entry, error) {
	files, err := filepath.Glob(filepath.Join(d.path, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", d.path, err)
	}
	if _, err := os.Stat(d.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading app_path: %w", err)
	}
	sort.Strings(files)
	entries := make([]Entry, 0, len(files))
	for _, f := range files {
		e := Entry{File: f}
		e.Raw, e.Err = os.ReadFile(f)
		if e.Err == nil {
			e.Def, e.Err = Decode(e.Raw)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Decode parses a definition, with the line and column of a syntax error.
func Decode(raw []byte) (*apidef.APIDefinition, error) {
	var def apidef.APIDefinition
	if err := json.Unmarshal(raw, &def); err != nil {
		return nil, jsonerr.Describe(raw, err)
	}
	return &def, nil
}

// Find returns the entry among entries that defines id.
func Find(entries []Entry, id string) (Entry, bool) {
	for _, e := range entries {
		if e.Def != nil && e.Def.APIID == id {
			return e, true
		}
	}
	return Entry{}, false
}

// FileFor returns the file that defines id, or "" when none does.
func (d *Dir) FileFor(id string) (string, error) {
	entries, err := d.Load()
	if err != nil {
		return "", err
	}
	e, _ := Find(entries, id)
	return e.File, nil
}

// SaveChecked writes def as raw JSON: over the file that already defines its id, else to
// `{api_id}.json`. The write is atomic (a temporary file renamed into place), so a reload never
// reads half a file. check, when not nil, is given the stored definitions first, under the
// store's lock, so that two writers cannot both pass it; its error stops the write.
func (d *Dir) SaveChecked(id string, raw []byte, check func(stored []Entry) error) (created bool, err error) {
	if err := apidef.ValidateAPIID(id); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	entries, err := d.Load()
	if err != nil {
		return false, err
	}
	if check != nil {
		if err := check(entries); err != nil {
			return false, err
		}
	}
	e, _ := Find(entries, id)
	file := e.File
	created = file == ""
	if created {
		file = filepath.Join(d.path, id+".json")
	}
	if err := os.MkdirAll(d.path, 0o755); err != nil {
		return false, fmt.Errorf("creating app_path: %w", err)
	}
	tmp, err := os.CreateTemp(d.path, ".tmp-"+id+"-*")
	if err != nil {
		return false, fmt.Errorf("writing definition: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return false, fmt.Errorf("writing definition: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("writing definition: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return false, fmt.Errorf("writing definition: %w", err)
	}
	return created, nil
}

// Delete removes the file defining id.
func (d *Dir) Delete(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	file, err := d.FileFor(id)
	if err != nil {
		return err
	}
	if file == "" {
		return ErrNotFound
	}
	if err := os.Remove(file); err != nil {
		return fmt.Errorf("deleting definition: %w", err)
	}
	return nil
}
