package plugin

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
)

// linkPrefix starts the names of the symbols the pre-flight check reads: the linker's records of
// package hashes, package names and the plugin path.
const linkPrefix = "go:link."

// linkSymbols calls fn with every symbol of f's symbol table of type typ (elf.SHT_DYNSYM or
// elf.SHT_SYMTAB) whose name starts with linkPrefix, and returns elf.ErrNoSymbols when f has no
// such table.
//
// It streams the tables instead of decoding them with elf.File.Symbols or DynamicSymbols: a
// gatehouse binary exports every symbol (about 110,000, so that plugins can link against it),
// which those functions turn into some 18 MB of heap, a peak the gateway kept in its resident
// memory for the rest of its life. Here the string table is read once, in order, through a small
// buffer, noting where names that start with linkPrefix lie (anywhere in a string: a linker may
// store a name as the tail of a longer one), then the symbol table, in order, picking the
// symbols whose names were noted.
func linkSymbols(f *elf.File, typ elf.SectionType, fn func(elf.Symbol) error) error {
	symtab := f.SectionByType(typ)
	if symtab == nil {
		return elf.ErrNoSymbols
	}
	if int(symtab.Link) <= 0 || int(symtab.Link) >= len(f.Sections) {
		return fmt.Errorf("symbol section %s has no string table", symtab.Name)
	}
	names, err := linkNames(f.Sections[symtab.Link])
	if err != nil {
		return fmt.Errorf("reading the string table of %s: %w", symtab.Name, err)
	}
	if len(names) == 0 {
		return nil
	}
	size := 24 // Elf64_Sym
	if f.Class == elf.ELFCLASS32 {
		size = 16 // Elf32_Sym
	}
	r := bufio.NewReaderSize(symtab.Open(), 64<<10)
	entry := make([]byte, size)
	bo := f.ByteOrder
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
		name, ok := names[bo.Uint32(entry)]
		if !ok {
			continue
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
}

// linkNames reads a string table and returns, by offset, every name in it that starts with
// linkPrefix.
func linkNames(strtab *elf.Section) (map[uint32]string, error) {
	r := bufio.NewReaderSize(strtab.Open(), 64<<10)
	prefix := []byte(linkPrefix)
	names := map[uint32]string{}
	var off uint64
	var long []byte // a string longer than the buffer, gathered
	for {
		chunk, err := r.ReadSlice(0)
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		if errors.Is(err, io.EOF) {
			return names, nil // what follows the last NUL is no complete name
		}
		if err != nil {
			return nil, err
		}
		s := chunk[:len(chunk)-1]
		if long != nil {
			s = append(long, s...)
			long = nil
		}
		for i := 0; ; {
			j := bytes.Index(s[i:], prefix)
			if j < 0 {
				break
			}
			if at := off + uint64(i+j); at <= 0xffffffff {
				names[uint32(at)] = string(s[i+j:])
			}
			i += j + 1
		}
		off += uint64(len(s)) + 1
	}
}
