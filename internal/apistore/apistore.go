// Package apistore keeps API definitions as JSON files in a directory (the gateway's app_path):
// every `*.json` file there is one definition, a Tyk Classic one or a Tyk OAS document (an
// OpenAPI 3 document with x-tyk-api-gateway, mapped onto the Classic model). As in Tyk, a file
// named `<name>-oas.json` is not a definition of its own but the OAS document of the Classic
// file `<name>.json` beside it (which sets is_oas). The gateway reads the directory on each
// reload; the Gateway API writes through it.
package apistore

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/jsonerr"
	"github.com/gatehouse/gatehouse/internal/oas"
	"github.com/gatehouse/gatehouse/internal/regfile"
	"github.com/gatehouse/gatehouse/internal/strpack"
)

// Entry is one definition file.
type Entry struct {
	// File is the file's path.
	File string
	// Raw is the Classic definition: the file's content, or for a file holding a Tyk OAS
	// document, the Classic definition it maps to.
	Raw []byte
	// Head is what routing and the reuse of compiled APIs read of the definition; it is set
	// when Err is not.
	Head Head
	// def is the decoded definition, nil when Err is set, and for a file LoadMemo found
	// unchanged until Def decodes Raw: with thousands of APIs, a decoded definition held for
	// each is most of the heap the collector marks on every cycle (docs/performance.md).
	def *apidef.APIDefinition
	// Err says why the file could not be decoded.
	Err error

	// OAS is the Tyk OAS document of an OAS API: File itself, or the companion OASFile of a
	// Classic file that sets is_oas. It is nil for a Classic API.
	OAS *oas.Document
	// OASFile is the companion `<name>-oas.json` of a Classic file that sets is_oas, when it
	// exists (read or not); "" otherwise.
	OASFile string
	// OASErr says why a Classic file that sets is_oas has no OAS document (the companion is
	// missing, does not parse, or describes another API). The gateway refuses such an API: its
	// document may switch on what the Classic file cannot express (request validation, mocks).
	OASErr error
}

// Head is what the gateway reads of a definition to route it, to find it by id, and to decide
// whether its compiled form can be reused, without decoding the rest.
type Head struct {
	APIID      string
	Domain     string
	ListenPath string
	Active     bool
	IsOAS      bool
	Internal   bool // not routed: reached only by looping
	// tags are the definition's tags (Tags), behind a pointer: the head is in every API's
	// memo entry, and most APIs have none.
	tags *[]string
}

// Tags returns the definition's tags, which choose the segmented gateways serving it from the
// fleet's store; nil when it has none or sets tags_disabled.
func (h Head) Tags() []string {
	if h.tags == nil {
		return nil
	}
	return *h.tags
}

// HeadOf returns def's head.
func HeadOf(def *apidef.APIDefinition) Head {
	h := Head{APIID: def.APIID, Domain: def.Domain, ListenPath: def.Proxy.ListenPath, Active: def.Active, IsOAS: def.IsOAS, Internal: def.Internal}
	if !def.TagsDisabled && len(def.Tags) > 0 {
		tags := slices.Clip(slices.Clone(def.Tags))
		h.tags = &tags
	}
	return h
}

// NewEntry returns the entry of a definition decoded from raw (its Classic form) by the caller.
func NewEntry(file string, raw []byte, def *apidef.APIDefinition) Entry {
	return Entry{File: file, Raw: raw, Head: HeadOf(def), def: def}
}

// Def returns the decoded definition, nil when Err is set. For an entry whose file LoadMemo
// found unchanged it decodes Raw (which decoded without error before) on each call: call it once
// and keep what it returns. A definition the entry holds is shared with every caller given it:
// it must not be changed (copy it, or decode Raw, to change it).
func (e Entry) Def() *apidef.APIDefinition {
	if e.def != nil || e.Err != nil {
		return e.def
	}
	def, err := Decode(e.Raw)
	if err != nil {
		return nil // not reached: the same bytes decoded before
	}
	return def
}

// Undecoded returns e without its decoded definition, which Def then decodes from Raw again
// when asked: for what is kept from one load to the next (the fleet's definitions, to go on
// serving them while Redis cannot be read), where a decoded definition for each of thousands
// of APIs would be most of the heap the collector marks. An entry from a memo already has the
// head the memo keeps, its strings packed.
func (e Entry) Undecoded() Entry {
	e.def = nil
	return e
}

// OASUnsupported lists what the entry's OAS document switches on that Gatehouse does not
// implement and that the Classic checks do not see. For Tyk's pair of files, whose Classic file
// drives the middleware, that is nothing: what only the document expresses (request validation,
// mock responses) is implemented, and the rest is the Classic file's to say.
func (e Entry) OASUnsupported() []string {
	if e.OAS == nil || e.OASFile != "" {
		return nil
	}
	return e.OAS.Unsupported()
}

// Companion suffixes: Tyk's Gateway API writes an OAS API as `<id>.json` (Classic, is_oas)
// beside `<id>-oas.json` (the OAS document), and an MCP API with `<id>-mcp.json`.
const (
	OASSuffix = "-oas.json"
	MCPSuffix = "-mcp.json"
)

// MaxFileSize bounds a definition file (and an OAS document beside one) read from the
// directory: 64 MiB, far above any real definition (the Gateway API takes definitions and OAS
// documents of up to 4 MiB; the Classic form of such a document may be larger). A larger file
// is reported as not loaded, as are those that are not regular files: named pipes, devices,
// sockets, directories named *.json, whose reads would block the reload or never end.
const MaxFileSize = 64 << 20

// Dir is a directory of definition files.
type Dir struct {
	path string
	mu   sync.Mutex // serialises writes
	memo *Memo      // decodes the reads of writes (UseMemo); nil: every file is decoded
}

// New returns the store for the directory path.
func New(path string) *Dir { return &Dir{path: path} }

// UseMemo makes the reads that SaveChecked, SaveOASChecked, Delete and FileFor make of the
// whole directory decode through m, as LoadMemo does: a file unchanged since m's last load is
// not decoded again (with thousands of files, a write otherwise decodes them all). On Linux
// those reads do not read a file whose status (inode, size, times) is the one recorded when it
// was last read, some seconds after it last changed (fileStat): a write sees each file as it is
// on disk, at a system call a file. The entries those reads give
// are only read, never changed, which makes sharing m with the gateway's reloads safe. Call it
// before the Dir is used.
func (d *Dir) UseMemo(m *Memo) { d.memo = m }

// Path returns the directory.
func (d *Dir) Path() string { return d.path }

// ErrNotFound is returned for an API id no file defines.
var ErrNotFound = errors.New("API not found")

// Load reads every `*.json` file in the directory, sorted by name. A file that cannot be read or
// decoded is returned with Err set; the others still load. A missing directory holds no
// definitions. Companion files (`-oas.json`, `-mcp.json`) are read with the Classic file they
// belong to; one with no Classic file setting is_oas beside it is returned with Err saying it is
// not loaded, and why.
func (d *Dir) Load() ([]Entry, error) { return d.load(nil, false) }

// LoadMemo is Load, decoding only the files whose content m has not seen decoded: a file read
// byte for byte as in m's last load gets that load's Head again, undecoded (Def decodes it when
// asked), and for a Tyk OAS document its Def and OAS, shared with that load's. Those are never
// changed by their users (the gateway, which keeps them in its snapshots), which is what makes
// sharing them safe; a caller that changes what it loads calls Load. Only entries that decoded
// without error from their one file are remembered (not a Classic file that sets is_oas, whose
// document is a second file). m then holds the files of this load alone (of the last one to
// end, when loads through m overlap). m holds no decoded Classic definition: with thousands of
// files, those would be most of the heap the collector marks.
func (d *Dir) LoadMemo(m *Memo) ([]Entry, error) { return d.load(m, false) }

// With heads set (the reads of writes, through a memo), a file whose status is the one m
// recorded when it last read it (fileStat) is not read at all: its entry has no Raw, only what
// the memo keeps (the Head of a Classic file; the whole entry of an OAS document). Writes look at
// heads alone, and with thousands of files, reading each on every write made a bulk of writes
// cost the square of their number.
func (d *Dir) load(m *Memo, heads bool) ([]Entry, error) {
	files, err := filepath.Glob(filepath.Join(d.path, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", d.path, err)
	}
	if _, err := os.Stat(d.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading app_path: %w", err)
	}
	sort.Strings(files)
	entries := make([]Entry, 0, len(files))
	claimed := map[string]bool{}
	rd := newFileReader(d.path)
	defer rd.close()
	ml := m.begin()
	var companions []string
	for _, f := range files {
		if companionOf(f) != "" {
			companions = append(companions, f)
			continue
		}
		var st fileStat
		if heads && ml != nil {
			st = rd.stat(f)
			if e, ok := ml.unchanged(f, st); ok {
				entries = append(entries, e)
				continue
			}
		}
		e := Entry{File: f}
		var raw []byte
		raw, e.Err = rd.read(f)
		if e.Err == nil {
			e = ml.decode(f, raw, st)
		}
		if e.Err == nil && e.Head.IsOAS && e.OAS == nil {
			e.loadCompanion()
			claimed[e.OASFile] = true
		}
		entries = append(entries, e)
	}
	for _, f := range companions {
		if claimed[f] {
			continue
		}
		classic := companionOf(f)
		suffix := f[len(classic)-len(".json"):]
		why := fmt.Errorf("not loaded: as in Tyk, a file named *%s is the document of the Classic file %s beside it, and there is none that sets is_oas; to serve the document on its own, give it a name without the %s suffix",
			suffix, filepath.Base(classic), suffix)
		entries = append(entries, Entry{File: f, Err: why})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].File < entries[j].File })
	ml.end()
	return entries, nil
}

// Memo remembers the entries a Dir decoded, by file and content, for LoadMemo. The zero value
// is ready to use. Loads may use it at the same time (the gateway's reloads, its Gateway API's
// writes and reads): each builds what it remembers apart, and the last to end leaves its own.
type Memo struct {
	mu        sync.Mutex
	last      map[string]memoEntry // the last load's to end
	stats     map[string]fileStat  // its files' statuses, where recorded (reads of heads)
	lastReads int                  // the files it read
}

// memoLoad is one load's use of a Memo: the entries the Memo held when it began (a map never
// changed once a load has ended with it), and what it found or decoded so far, which becomes
// the Memo's when it ends. A nil memoLoad decodes every file.
type memoLoad struct {
	m          *Memo
	last, next map[string]memoEntry
	// lastStats and nextStats are the statuses recorded with last's entries and next's (apart
	// from memoEntry, which a map holds in place only while it is at most 128 bytes, and
	// nil until a read of heads records one: a gateway whose Gateway API writes nothing has none).
	lastStats, nextStats map[string]fileStat
	reads                int // files read and decoded through the memo
}

// begin starts a load through m (nil for a nil m).
func (m *Memo) begin() *memoLoad {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return &memoLoad{m: m, last: m.last, next: make(map[string]memoEntry, len(m.last)), lastStats: m.stats}
}

// memoEntry is a decoded file: the hash of its content and what a load needs to give its entry
// again. For a Classic file that is its Head alone (Raw is the content, read again on every
// load, and Def decodes it when asked); a file with an OAS document keeps its whole entry, the
// document's decoding being the costly part. With 10,000 APIs a whole Entry per file was 96
// bytes more each that the collector marks on every cycle.
type memoEntry struct {
	oas  *Entry // the entry of a file with an OAS document; nil for a Classic one
	head Head
	sum  [sha256.Size]byte
}

// fileStat is what says a file was not changed since it was read: a digest of its inode, size,
// and times of last change of content (mtime) and of anything (ctime, which no one can set
// back). Recorded, by a read of heads, only once settled, its ctime
// older than settleTime when it was taken: file systems keep times to a tick (a few
// milliseconds, up to 2 s on some), so a file changed twice within one tick keeps its times,
// and only a status older than any tick can vouch for the content read with it (git's "racily
// clean" rule). The zero fileStat matches nothing.
type fileStat uint64

// statSeed seeds the digests of file statuses, which are compared within the process only.
var statSeed = maphash.MakeSeed()

// newFileStat returns the digest of a file's status, never zero.
func newFileStat(dev, ino, size uint64, mtime, ctime int64) fileStat {
	var h maphash.Hash
	h.SetSeed(statSeed)
	var b [40]byte
	binary.LittleEndian.PutUint64(b[0:], dev)
	binary.LittleEndian.PutUint64(b[8:], ino)
	binary.LittleEndian.PutUint64(b[16:], size)
	binary.LittleEndian.PutUint64(b[24:], uint64(mtime))
	binary.LittleEndian.PutUint64(b[32:], uint64(ctime))
	h.Write(b[:])
	return fileStat(h.Sum64() | 1)
}

// settleTime is how old a file's ctime must be for its status to be recorded.
var settleTime = 3 * time.Second

// unchanged returns the remembered entry of file when st, its status now, is the one recorded
// when it was last read (the entry has no Raw then); ok is false otherwise, and for a zero st.
func (l *memoLoad) unchanged(file string, st fileStat) (Entry, bool) {
	if st == 0 {
		return Entry{}, false
	}
	me, ok := l.last[file]
	if !ok || l.lastStats[file] != st {
		return Entry{}, false
	}
	l.next[file] = me
	l.keepStat(file, st)
	if me.oas != nil {
		return *me.oas, true
	}
	return Entry{File: file, Head: me.head}, true
}

// decode returns the entry of file's content raw: the remembered one when raw is the content it
// was decoded from, else a new decode. A nil l always decodes.
// st is the file's status taken before the read (zero when not taken): recorded with the entry,
// so that a later read of heads need not read the file while its status stays the same.
func (l *memoLoad) decode(file string, raw []byte, st fileStat) Entry {
	if l == nil {
		return DecodeEntry(file, raw)
	}
	l.reads++
	sum := sha256.Sum256(raw)
	if me, ok := l.last[file]; ok && me.sum == sum {
		if st == 0 {
			st = l.lastStats[file] // the same content: its status still vouches for it
		}
		l.keepStat(file, st)
		l.next[file] = me
		if me.oas != nil {
			return *me.oas
		}
		return Entry{File: file, Raw: raw, Head: me.head}
	}
	e := DecodeEntry(file, raw)
	switch {
	case e.Err != nil || (e.Head.IsOAS && e.OAS == nil):
		// not remembered: decoded again until it decodes whole
	case e.OAS != nil:
		kept := e
		l.next[file] = memoEntry{oas: &kept, sum: sum}
		l.keepStat(file, st)
	default:
		// Its strings share one allocation, not the decoding's several; the entry returned
		// has the same head, so that what a caller keeps of it (Undecoded) shares it too.
		strpack.Pack(&e.Head.APIID, &e.Head.Domain, &e.Head.ListenPath)
		l.next[file] = memoEntry{head: e.Head, sum: sum}
		l.keepStat(file, st)
	}
	return e
}

// end makes this load's entries the ones the next load compares with: a file removed, or one
// that no longer decodes, is forgotten.
func (l *memoLoad) end() {
	if l == nil {
		return
	}
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	l.m.last = l.next
	l.m.stats = l.nextStats
	l.m.lastReads = l.reads
}

// keepStat records st (when known) as the status of file, whose entry this load remembers.
func (l *memoLoad) keepStat(file string, st fileStat) {
	if st == 0 {
		return
	}
	if l.nextStats == nil {
		l.nextStats = make(map[string]fileStat, len(l.next))
	}
	l.nextStats[file] = st
}

// companionOf returns the Classic file a companion file belongs to, or "" when file is not a
// companion.
func companionOf(file string) string {
	for _, suffix := range []string{OASSuffix, MCPSuffix} {
		if base, ok := strings.CutSuffix(file, suffix); ok && filepath.Base(base) != "" {
			return base + ".json"
		}
	}
	return ""
}

// loadCompanion reads the OAS document of a Classic file that sets is_oas.
func (e *Entry) loadCompanion() {
	base := strings.TrimSuffix(e.File, ".json")
	if _, err := os.Stat(base + MCPSuffix); err == nil {
		if _, err := os.Stat(base + OASSuffix); err != nil {
			e.OASFile = base + MCPSuffix
			e.OASErr = fmt.Errorf("%s: MCP APIs are not supported", filepath.Base(e.OASFile))
			return
		}
	}
	e.OASFile = base + OASSuffix
	raw, err := regfile.Read(e.OASFile, MaxFileSize)
	if errors.Is(err, os.ErrNotExist) {
		e.OASFile = ""
		e.OASErr = fmt.Errorf("its OAS document %s is missing", filepath.Base(base+OASSuffix))
		return
	}
	if err != nil {
		e.OASErr = err
		return
	}
	doc, err := oas.Parse(raw)
	if err != nil {
		e.OASErr = fmt.Errorf("its OAS document %s: %w", filepath.Base(e.OASFile), err)
		return
	}
	if id := doc.Ext.Info.ID; id != "" && id != e.Head.APIID {
		e.OASErr = fmt.Errorf("its OAS document %s describes API %q, not %q", filepath.Base(e.OASFile), id, e.Head.APIID)
		return
	}
	// Which sets of auth methods let a request in is the document's to say: Tyk reads
	// security_requirements only in compliant mode, and writes them into the Classic file in
	// legacy mode too, by the document's scheme names.
	reqs, err := doc.SecurityRequirements()
	if err != nil {
		e.OASErr = fmt.Errorf("its OAS document %s: %w", filepath.Base(e.OASFile), err)
		return
	}
	e.OAS = doc
	// The Classic file of a pair is decoded afresh on every load (memoLoad.decode does not
	// remember it), so its definition is this entry's own to change.
	if e.def != nil {
		e.def.SecurityRequirements = reqs
	}
}

// DecodeEntry decodes the content of a definition file (or a shared definition) named file: a
// Tyk Classic definition, or a Tyk OAS document mapped onto the Classic model (Entry.OAS set,
// Raw the Classic form). Err says why it cannot be decoded.
func DecodeEntry(file string, raw []byte) Entry {
	e := Entry{File: file, Raw: raw}
	if !oas.IsDocument(raw) {
		if e.def, e.Err = Decode(raw); e.Err == nil {
			e.Head = HeadOf(e.def)
		}
		return e
	}
	doc, err := oas.Parse(raw)
	if err != nil {
		e.Err = fmt.Errorf("a Tyk OAS definition that cannot be read: %w", err)
		return e
	}
	def, err := doc.Classic()
	if err != nil {
		e.Err = fmt.Errorf("a Tyk OAS definition that cannot be served: %w", err)
		return e
	}
	classic, err := json.Marshal(def)
	if err != nil {
		e.Err = fmt.Errorf("encoding the Classic form of a Tyk OAS definition: %w", err)
		return e
	}
	e.Raw, e.def, e.OAS, e.Head = classic, def, doc, HeadOf(def)
	return e
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
		if e.Err == nil && e.Head.APIID == id {
			return e, true
		}
	}
	return Entry{}, false
}

// ErrRepeatedID refuses to change or delete an API that more than one file of app_path defines:
// which one serves depends on the past (the gateway keeps serving the one that served), and
// changing the other would do nothing, or let it serve instead.
var ErrRepeatedID = errors.New("api_id defined by more than one file")

// fileID returns the api_id a file of app_path defines, or "" for an entry that defines none
// for this rule: a broken one (reported for what is wrong with it) or a definition stored in
// Redis (files win over those).
func fileID(e Entry) string {
	if e.Err != nil || strings.HasPrefix(e.File, SharedPrefix) {
		return ""
	}
	return e.Head.APIID
}

// FileIDs returns the file of app_path that defines each api_id, and the api_ids more than one
// file defines, each with an error naming those files (wrapping ErrRepeatedID). Two files of
// app_path with one api_id are both refused: which one would serve cannot be told safely (a copy
// with auth switched off, edited or restarted beside the real one, must never take its place),
// so neither serves, and the Gateway API neither reads, changes nor deletes it (FindOne), until
// one goes. A definition stored in Redis with the api_id of a file is refused: files win.
func FileIDs(entries []Entry) (defined map[string]string, repeated map[string]error) {
	defined = make(map[string]string, len(entries))
	var files map[string][]string
	for _, e := range entries {
		id := fileID(e)
		if id == "" {
			continue
		}
		first, dup := defined[id]
		if !dup {
			defined[id] = e.File
			continue
		}
		if files == nil {
			files = map[string][]string{}
		}
		if len(files[id]) == 0 {
			files[id] = []string{filepath.Base(first)}
		}
		files[id] = append(files[id], filepath.Base(e.File))
	}
	if files != nil {
		repeated = make(map[string]error, len(files))
		for id, f := range files {
			repeated[id] = repeatedID(id, f)
		}
	}
	return defined, repeated
}

// repeatedID is the error for an api_id the files named all define.
func repeatedID(id string, files []string) error {
	return fmt.Errorf("%w: %s define api_id %q; none of them is served, read, changed or deleted until all but one are removed from app_path", ErrRepeatedID, strings.Join(files, " and "), id)
}

// FindOne is Find for a read or a change: it refuses an id more than one file defines
// (ErrRepeatedID, the rule of FileIDs). It looks at files only: a definition stored in Redis is
// Find's.
func FindOne(entries []Entry, id string) (Entry, bool, error) {
	var files []string
	var found Entry
	for _, e := range entries {
		if id != "" && fileID(e) == id {
			if len(files) == 0 {
				found = e
			}
			files = append(files, filepath.Base(e.File))
		}
	}
	if len(files) > 1 {
		return Entry{}, false, repeatedID(id, files)
	}
	return found, len(files) == 1, nil
}

// FileFor returns the file that defines id, or "" when none does.
func (d *Dir) FileFor(id string) (string, error) {
	entries, err := d.load(d.memo, true)
	if err != nil {
		return "", err
	}
	e, _ := Find(entries, id)
	return e.File, nil
}

// SaveChecked writes def as raw JSON: over the file that already defines its id, else to
// `{api_id}.json`. The write is atomic (a temporary file renamed into place), so a reload never
// reads half a file. check, when not nil, is given the stored definitions first, under the
// store's lock, so that two writers cannot both pass it; its error stops the write. A new API is
// refused, with nothing written, when `{api_id}.json` is a name the loader reads as another
// API's document (ErrCompanionID) or a file that is there already (ErrFileTaken).
func (d *Dir) SaveChecked(id string, raw []byte, check func(stored []Entry) error) (created bool, err error) {
	if err := apidef.ValidateAPIID(id); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	entries, err := d.load(d.memo, true)
	if err != nil {
		return false, err
	}
	if check != nil {
		if err := check(entries); err != nil {
			return false, err
		}
	}
	e, _, err := FindOne(entries, id)
	if err != nil {
		return false, err
	}
	file := e.File
	created = file == ""
	if created {
		if file, err = d.newFile(id); err != nil {
			return false, err
		}
	}
	if err := free(entries, e, id, file); err != nil {
		return false, err
	}
	if err := d.write(file, id, raw); err != nil {
		return false, err
	}
	return created, nil
}

// SaveOASChecked writes a Tyk OAS API as Tyk's Gateway API does, so that app_path moves between
// Tyk and Gatehouse unchanged: classic (the Classic form, with is_oas) to `<id>.json` and doc to
// `<id>-oas.json`, or over the pair of files that defines id already. A single OpenAPI document
// file that defines id keeps its form: doc is written over it. Each file is written atomically,
// the document first, so that a reload never reads a Classic file newer than its document.
// check and the refusals are as for SaveChecked; when either file is refused, neither is written.
func (d *Dir) SaveOASChecked(id string, classic, doc []byte, check func(stored []Entry) error) (created bool, err error) {
	if err := apidef.ValidateAPIID(id); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	entries, err := d.load(d.memo, true)
	if err != nil {
		return false, err
	}
	if check != nil {
		if err := check(entries); err != nil {
			return false, err
		}
	}
	e, _, err := FindOne(entries, id)
	if err != nil {
		return false, err
	}
	if e.File != "" && e.OAS != nil && e.OASFile == "" {
		return false, d.write(e.File, id, doc)
	}
	file := e.File
	created = file == ""
	if created {
		if file, err = d.newFile(id); err != nil {
			return false, err
		}
	}
	docFile := strings.TrimSuffix(file, ".json") + OASSuffix
	// Both files are checked before either is written: a refusal writes nothing.
	if err := free(entries, e, id, docFile, file); err != nil {
		return false, err
	}
	if err := d.write(docFile, id, doc); err != nil {
		return false, err
	}
	return created, d.write(file, id, classic)
}

// ErrCompanionID is returned, wrapped with the reason, for an API created with an api_id whose
// file `<api_id>.json` the loader reads as the document of another API (an id ending in -oas or
// -mcp): it would be reported stored and never load.
var ErrCompanionID = errors.New("api_id names a companion file")

// ErrFileTaken is returned, wrapped with the file and what holds it, when a write would replace
// a file in the directory that is not the written API's own: another API's definition or
// document, or a file that does not load. Nothing is written.
var ErrFileTaken = errors.New("file taken")

// refusal is an error whose message says it all, marked with what kind of refusal it is.
type refusal struct {
	kind error
	msg  string
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.kind }

// newFile returns the file a new API id is written to, `<id>.json`, unless the loader would read
// that name as the document of another API.
func (d *Dir) newFile(id string) (string, error) {
	file := filepath.Join(d.path, id+".json")
	if classic := companionOf(file); classic != "" {
		suffix := strings.TrimSuffix(file[len(classic)-len(".json"):], ".json")
		return "", &refusal{kind: ErrCompanionID, msg: fmt.Sprintf(
			"api_id %q cannot be created here: it would be written to %s, and a file named *%s.json is read as the document of the API in %s beside it, never as a definition of its own; choose an api_id that does not end in -oas or -mcp",
			id, filepath.Base(file), suffix, filepath.Base(classic))}
	}
	return file, nil
}

// free returns ErrFileTaken when one of files, which a write of API id would replace, exists and
// is not a file of own, the entry of id being updated (the zero Entry for a new API). entries
// name what holds a file.
func free(entries []Entry, own Entry, id string, files ...string) error {
	for _, file := range files {
		if own.File != "" && (file == own.File || file == own.OASFile) {
			continue
		}
		name := filepath.Base(file)
		what, todo := holder(entries, file)
		if what == "" {
			_, err := os.Lstat(file)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("writing definition: %w", err)
			}
			what, todo = "exists", "choose another api_id, or move or delete "+name
		}
		return &refusal{kind: ErrFileTaken, msg: fmt.Sprintf(
			"API %q would be written to %s in app_path, which %s; nothing was written: %s", id, name, what, todo)}
	}
	return nil
}

// holder says what, among entries, holds file ("" when none does), and what to do about it.
func holder(entries []Entry, file string) (what, todo string) {
	name := filepath.Base(file)
	for _, e := range entries {
		switch {
		case e.File == file && e.Err == nil:
			return fmt.Sprintf("holds the definition of API %q", e.Head.APIID),
				fmt.Sprintf("choose another api_id, or rename %s (API %q loads from any other *.json name)", name, e.Head.APIID)
		case e.File == file && companionOf(file) != "":
			return "is a document no API loads (no file beside it sets is_oas)", "choose another api_id, or move or delete " + name
		case e.File == file:
			return "holds a definition that does not load", "choose another api_id, or fix, move or delete " + name
		case e.OASFile == file:
			kind := "OAS"
			if strings.HasSuffix(file, MCPSuffix) {
				kind = "MCP"
			}
			return fmt.Sprintf("is the %s document of API %q", kind, e.Head.APIID), "choose another api_id"
		}
	}
	return "", ""
}

// write replaces file with raw atomically: a temporary file renamed into place.
func (d *Dir) write(file, id string, raw []byte) error {
	if err := os.MkdirAll(d.path, 0o755); err != nil {
		return fmt.Errorf("creating app_path: %w", err)
	}
	tmp, err := os.CreateTemp(d.path, ".tmp-"+id+"-*")
	if err != nil {
		return fmt.Errorf("writing definition: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("writing definition: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing definition: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("writing definition: %w", err)
	}
	return nil
}

// Delete removes the file defining id.
func (d *Dir) Delete(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	entries, err := d.load(d.memo, true)
	if err != nil {
		return err
	}
	e, ok, err := FindOne(entries, id)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	if err := os.Remove(e.File); err != nil {
		return fmt.Errorf("deleting definition: %w", err)
	}
	// The OAS document of Tyk's pair of files goes with its Classic file.
	if e.OASFile != "" {
		if err := os.Remove(e.OASFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("deleting the OAS document of the definition: %w", err)
		}
	}
	return nil
}
