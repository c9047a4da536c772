package plugin

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// linkPrefix starts the names of the symbols the pre-flight check reads: the linker's records of
// package hashes, package names and the plugin path.
const linkPrefix = "go:link."

// Limits on the names linkSymbols reads, so that a hostile file cannot make the gateway hold
// more than a few megabytes: a gatehouse binary has about 800 go:link. names of 40 bytes on
// average, a plugin fewer.
const (
	maxLinkName  = 4 << 10 // bytes in one name
	maxLinkNames = 1 << 16 // names, places the prefix occurs, and symbols with such names
	maxLinkBytes = 4 << 20 // bytes in all names
)

// linkSymbols calls fn with every symbol of f's symbol table of type typ (elf.SHT_DYNSYM or
// elf.SHT_SYMTAB) whose name starts with linkPrefix, and returns elf.ErrNoSymbols when f has no
// such table.
//
// It streams the tables instead of decoding them with elf.File.Symbols or DynamicSymbols: a
// gatehouse binary exports every symbol (about 110,000, so that plugins can link against it),
// which those functions turn into some 18 MB of heap, a peak the gateway kept in its resident
// memory for the rest of its life. Here the string table is read once, in order, through a small
// buffer, noting the offsets where linkPrefix occurs (anywhere in a string: a linker may store a
// name as the tail of a longer one); then the symbol table, keeping the entries whose names lie
// at one of those offsets; then the string table again, copying only the names those entries
// point at. Each step is bounded by the limits above, whatever the file holds.
func linkSymbols(f *elf.File, typ elf.SectionType, fn func(elf.Symbol) error) error {
	symtab := f.SectionByType(typ)
	if symtab == nil {
		return elf.ErrNoSymbols
	}
	if int(symtab.Link) <= 0 || int(symtab.Link) >= len(f.Sections) {
		return fmt.Errorf("symbol section %s has no string table", symtab.Name)
	}
	strtab := f.Sections[symtab.Link]
	// A compressed table could expand to any size; linkers do not compress these.
	if (symtab.Flags|strtab.Flags)&elf.SHF_COMPRESSED != 0 {
		return fmt.Errorf("symbol section %s or its string table %s is compressed", symtab.Name, strtab.Name)
	}
	found, err := prefixOffsets(strtab)
	if err != nil {
		return fmt.Errorf("reading the string table of %s: %w", symtab.Name, err)
	}
	if len(found) == 0 {
		return nil
	}
	bo := f.ByteOrder
	size := int(symSize(f))
	var kept []byte // the entries whose names start with linkPrefix, one after another
	var offsets []uint32
	err = eachSymbol(f, symtab, func(entry []byte) error {
		off := bo.Uint32(entry)
		if _, ok := slices.BinarySearch(found, off); !ok {
			return nil
		}
		if len(kept) == maxLinkNames*size {
			return fmt.Errorf("more than %d symbols of %s are named %s...", maxLinkNames, symtab.Name, linkPrefix)
		}
		kept = append(kept, entry...)
		offsets = append(offsets, off)
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(offsets)
	names, err := linkNames(strtab, slices.Compact(offsets))
	if err != nil {
		return fmt.Errorf("reading the string table of %s: %w", symtab.Name, err)
	}
	for ; len(kept) > 0; kept = kept[size:] {
		entry := kept[:size]
		name, ok := names[bo.Uint32(entry)]
		if !ok {
			continue // an unterminated string at the table's end
		}
		var s elf.Symbol
		if f.Class == elf.ELFCLASS32 {
			s = elf.Symbol{Name: name, Value: uint64(bo.Uint32(entry[4:])), Size: uint64(bo.Uint32(entry[8:])),
				Info: entry[12], Other: entry[13], Section: elf.SectionIndex(bo.Uint16(entry[14:]))}
		} else {
			s = elf.Symbol{Name: name, Info: entry[4], Other: entry[5], Section: elf.SectionIndex(bo.Uint16(entry[6:])),
				Value: bo.Uint64(entry[8:]), Size: bo.Uint64(entry[16:])}
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// prefixOffsets returns, in order, the offsets in a string table where linkPrefix occurs, at
// most maxLinkNames of them.
func prefixOffsets(strtab *elf.Section) ([]uint32, error) {
	r := strtab.Open()
	prefix := []byte(linkPrefix)
	buf := make([]byte, 64<<10)
	var found []uint32
	var base uint64 // the offset of buf[0]
	kept := 0       // bytes at the start of buf carried over from the last read
	for {
		n, err := io.ReadFull(r, buf[kept:])
		n += kept
		for i := 0; ; {
			j := bytes.Index(buf[i:n], prefix)
			if j < 0 {
				break
			}
			at := base + uint64(i+j)
			if at > math.MaxUint32 {
				return found, nil // no symbol can name it
			}
			if len(found) == maxLinkNames {
				return nil, fmt.Errorf("%s occurs more than %d times", linkPrefix, maxLinkNames)
			}
			found = append(found, uint32(at))
			i += j + len(prefix)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return found, nil
		}
		if err != nil {
			return nil, err
		}
		// The last len(prefix)-1 bytes may start an occurrence that the next read completes.
		kept = len(prefix) - 1
		copy(buf, buf[n-kept:n])
		base += uint64(n - kept)
	}
}

// eachSymbol calls fn with each raw entry of the symbol section symtab, in order, through a
// small buffer; entry is reused between calls.
func eachSymbol(f *elf.File, symtab *elf.Section, fn func(entry []byte) error) error {
	r := bufio.NewReaderSize(symtab.Open(), 64<<10)
	entry := make([]byte, symSize(f))
	for {
		if _, err := io.ReadFull(r, entry); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("symbol section %s ends inside an entry", symtab.Name)
			}
			return fmt.Errorf("reading symbol section %s: %w", symtab.Name, err)
		}
		if err := fn(entry); err != nil {
			return err
		}
	}
}

// symSize is the size of an entry of f's symbol tables.
func symSize(f *elf.File) uint64 {
	if f.Class == elf.ELFCLASS32 {
		return 16 // Elf32_Sym
	}
	return 24 // Elf64_Sym
}

// linkNames reads a string table and returns, by offset, the names at offsets (sorted, without
// duplicates) that start with linkPrefix. It refuses a table whose names exceed the limits
// above.
func linkNames(strtab *elf.Section, offsets []uint32) (map[uint32]string, error) {
	r := bufio.NewReaderSize(strtab.Open(), 64<<10) // more than maxLinkName+1: Peek takes it whole
	prefix := []byte(linkPrefix)
	names := map[uint32]string{}
	var pos uint64 // the offset of r's next byte
	var total int
	for _, off := range offsets {
		if n, err := r.Discard(int(uint64(off) - pos)); err != nil {
			pos += uint64(n)
			if errors.Is(err, io.EOF) {
				return names, nil // offsets past the end name nothing
			}
			return nil, err
		}
		pos = uint64(off)
		head, err := r.Peek(len(prefix))
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if !bytes.Equal(head, prefix) {
			continue
		}
		s, err := r.Peek(maxLinkName + 1)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		end := bytes.IndexByte(s, 0)
		if end < 0 {
			if len(s) > maxLinkName {
				return nil, fmt.Errorf("the name at offset %d is longer than %d bytes", off, maxLinkName)
			}
			continue // no NUL before the end: no complete name
		}
		if len(names) == maxLinkNames || total+end > maxLinkBytes {
			return nil, fmt.Errorf("more than %d names or %d bytes of names start with %s", maxLinkNames, maxLinkBytes, linkPrefix)
		}
		total += end
		names[off] = string(s[:end])
	}
	return names, nil
}
