package plugin

import (
	"debug/elf"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// allocBy returns the bytes fn allocates.
func allocBy(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestLinkNamesHostileStringTable reads a file whose string table holds one string with 5,000
// copies of "go:link." before the one name a symbol points at. Only the names symbols point at
// are copied: noting every place the prefix occurs, with a copy of the rest of the string, took
// over 100 MB here and 1 TB for a 4 MB string table.
func TestLinkNamesHostileStringTable(t *testing.T) {
	stored := strings.Repeat(linkPrefix, 5000) + "go:link.pkghashbytes.runtime"
	file := elfFile{syms: []sym{{name: "go:link.pkghashbytes.runtime", data: hashRuntime, stored: stored}}, dynamic: true}.write(t)
	var got map[string][]byte
	var err error
	alloc := allocBy(func() { got, err = hostPackageHashes(file) })
	t.Logf("a string table of %d bytes: %d KiB allocated", len(stored), alloc>>10)
	if err != nil || string(got["runtime"]) != hashRuntime || len(got) != 1 {
		t.Errorf("got %q, %v", got, err)
	}
	if alloc > 10<<20 {
		t.Errorf("reading a %d-byte string table allocated %d MB", len(stored), alloc>>20)
	}
}

// TestLinkNamesLimits checks that names past the limits are refused with an error, and names
// within them read.
func TestLinkNamesLimits(t *testing.T) {
	longest := "go:link.pkghashbytes." + strings.Repeat("p", maxLinkName-len("go:link.pkghashbytes."))
	t.Run("the longest name", func(t *testing.T) {
		file := elfFile{syms: []sym{{name: longest, data: hashRuntime}}, dynamic: true}.write(t)
		got, err := hostPackageHashes(file)
		if err != nil || string(got[strings.TrimPrefix(longest, "go:link.pkghashbytes.")]) != hashRuntime {
			t.Errorf("got %d hashes, %v", len(got), err)
		}
	})
	t.Run("across the edge of the reading buffer", func(t *testing.T) {
		// The string starts at offset 1, the prefix 3 bytes before 64 KiB.
		name := "go:link.pkghashbytes.runtime"
		stored := strings.Repeat("x", 64<<10-1-3) + name
		file := elfFile{syms: []sym{{name: name, data: hashRuntime, stored: stored}}, dynamic: true}.write(t)
		got, err := hostPackageHashes(file)
		if err != nil || string(got["runtime"]) != hashRuntime || len(got) != 1 {
			t.Errorf("got %q, %v", got, err)
		}
	})
	t.Run("a name one byte longer", func(t *testing.T) {
		file := elfFile{syms: []sym{{name: longest + "p", data: hashRuntime}}, dynamic: true}.write(t)
		got, err := hostPackageHashes(file)
		// The name starts after the string table's leading NUL.
		want := fmt.Sprintf("reading the string table of .dynsym: the name at offset 1 is longer than %d bytes", maxLinkName)
		if err == nil || err.Error() != want || got != nil {
			t.Errorf("got %d hashes, %v; want %q", len(got), err, want)
		}
	})
	t.Run("too many bytes of names", func(t *testing.T) {
		// Names of the longest length, a little over the limit in all.
		var syms []sym
		for i := 0; i*len(longest) <= maxLinkBytes; i++ {
			name := fmt.Sprintf("%s%08d", longest[:len(longest)-8], i)
			syms = append(syms, sym{name: name, data: "\x01"})
		}
		file := elfFile{syms: syms, dynamic: true}.write(t)
		got, err := hostPackageHashes(file)
		want := fmt.Sprintf("reading the string table of .dynsym: more than %d names or %d bytes of names start with go:link.", maxLinkNames, maxLinkBytes)
		if err == nil || err.Error() != want || got != nil {
			t.Errorf("got %d hashes, %v; want %q", len(got), err, want)
		}
	})
	t.Run("a compressed symbol table", func(t *testing.T) {
		file := elfFile{syms: []sym{{name: "go:link.pkghashbytes.runtime", data: hashRuntime}}, dynamic: true, compressed: true}.write(t)
		got, err := hostPackageHashes(file)
		want := "symbol section .dynsym or its string table .dynstr is compressed"
		if err == nil || err.Error() != want || got != nil {
			t.Errorf("got %d hashes, %v; want %q", len(got), err, want)
		}
	})
	t.Run("too many places the prefix occurs", func(t *testing.T) {
		stored := strings.Repeat(linkPrefix, maxLinkNames) + "go:link.pkghashbytes.runtime"
		file := elfFile{syms: []sym{{name: "go:link.pkghashbytes.runtime", data: hashRuntime, stored: stored}}, dynamic: true}.write(t)
		got, err := hostPackageHashes(file)
		want := fmt.Sprintf("reading the string table of .dynsym: go:link. occurs more than %d times", maxLinkNames)
		if err == nil || err.Error() != want || got != nil {
			t.Errorf("got %d hashes, %v; want %q", len(got), err, want)
		}
	})
	t.Run("too many symbols of one name", func(t *testing.T) {
		file := elfFile{syms: []sym{{name: "go:link.pkghashbytes.runtime", data: hashRuntime, copies: maxLinkNames + 1}}, dynamic: true}.write(t)
		got, err := hostPackageHashes(file)
		want := fmt.Sprintf("more than %d symbols of .dynsym are named go:link....", maxLinkNames)
		if err == nil || err.Error() != want || got != nil {
			t.Errorf("got %d hashes, %v; want %q", len(got), err, want)
		}
	})
}

// TestSymbolDataBounds reads symbols whose address and size, added, wrap around 2^64, or lie
// past their section, or are too large: each is an error, never a panic or a huge allocation.
func TestSymbolDataBounds(t *testing.T) {
	big := strings.Repeat("b", maxSymbolData+1)
	file := elfFile{syms: []sym{{name: "go:link.pkghashbytes.runtime", data: hashRuntime}, {name: "go:link.pkghashbytes.big", data: big}}, dynamic: true}.write(t)
	f, err := elf.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	idx := -1
	for i, s := range f.Sections {
		if s.Name == ".data" {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatal("no .data section")
	}
	sect := f.Sections[idx]
	at := func(value, size uint64) elf.Symbol {
		return elf.Symbol{Name: "go:link.pkghashbytes.x", Section: elf.SectionIndex(idx), Value: value, Size: size}
	}
	outside := "symbol go:link.pkghashbytes.x lies outside its section"
	for _, tc := range []struct {
		name string
		s    elf.Symbol
		err  string
	}{
		{"wraps from inside", at(sect.Addr+1, ^uint64(0)), outside},
		{"wraps to the section's start", at(sect.Addr+8, ^uint64(0)-7), outside},
		{"the whole address space", at(sect.Addr, ^uint64(0)), outside},
		{"at the top of the address space", at(^uint64(0), 2), outside},
		{"before the section", at(sect.Addr-1, 1), outside},
		{"one byte past the end", at(sect.Addr+sect.Size-1, 2), outside},
		{"the whole section, over the limit", at(sect.Addr, sect.Size),
			fmt.Sprintf("symbol go:link.pkghashbytes.x holds %d bytes, more than the %d it may", sect.Size, maxSymbolData)},
		{"the first symbol", at(sect.Addr, 8), ""},
		{"the last byte", at(sect.Addr+sect.Size-1, 1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("symbolData panicked: %v", p)
				}
			}()
			b, err := symbolData(f, tc.s)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.err == "" && uint64(len(b)) != tc.s.Size:
				t.Errorf("read %d bytes, want %d", len(b), tc.s.Size)
			case tc.err != "" && (err == nil || err.Error() != tc.err):
				t.Errorf("read %d bytes, %v; want error %q", len(b), err, tc.err)
			}
		})
	}
	t.Run("in a check", func(t *testing.T) {
		// The big symbol, read by the host's check, is refused as a whole.
		_, err := hostPackageHashes(file)
		want := fmt.Sprintf("symbol go:link.pkghashbytes.big holds %d bytes, more than the %d it may", len(big), maxSymbolData)
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
}

// TestCheckRecoversPanic checks that a panic while a file is checked is returned as an error:
// the check runs on the reload path, where a panic would stop the gateway. A check against no
// gateway at all panics when it reaches the comparison.
func TestCheckRecoversPanic(t *testing.T) {
	file := plugin(t, runtime.Version(), pluginInfo(nil), samePackages())
	rep, err := check(file, nil)
	if err == nil || rep != nil || !strings.Contains(err.Error(), file+" could not be read as a Go plugin: reading it panicked: ") {
		t.Errorf("got %v, %v", rep, err)
	}
}

// BenchmarkHostPackageHashes reads the package hashes of this test binary, as the first plugin
// check of a process does.
func BenchmarkHostPackageHashes(b *testing.B) {
	if !supported {
		b.Skip("this binary cannot load plugins, so it records no package hashes")
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hostPackageHashes(exe); err != nil {
			b.Fatal(err)
		}
	}
}
