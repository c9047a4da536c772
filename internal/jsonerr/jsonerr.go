// Package jsonerr says where in its input an encoding/json error happened, in words a person
// editing the file can act on: the line and column (in characters) of the offending character,
// and a hint for the commonest slip, a trailing comma. It uses the standard library only.
package jsonerr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Describe turns a decoding error of data into one that says where it happened. A syntax error
// is wrapped.
func Describe(data []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		if len(bytes.TrimSpace(data)) == 0 {
			return errors.New("it is empty; it must hold a JSON object")
		}
		// Offset counts the offending byte itself, except at the end of the input.
		off := int(syn.Offset)
		if off > 0 && off <= len(data) && !strings.HasPrefix(syn.Error(), "unexpected end") {
			off--
		}
		line, col := Position(data, off)
		hint := ""
		if c, ok := trailingComma(data, off); ok {
			cl, cc := Position(data, c)
			hint = fmt.Sprintf(" (JSON does not allow a trailing comma; remove the comma at line %d, column %d)", cl, cc)
		}
		return fmt.Errorf("invalid JSON at line %d, column %d: %w%s", line, col, err, hint)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		line, col := Position(data, int(typ.Offset))
		return fmt.Errorf("field %q at line %d, column %d: want %s, got JSON %s", typ.Field, line, col, typ.Type, typ.Value)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// Position returns the 1-based line and column (in characters) of byte offset off in data; an
// offset past the end is the end.
func Position(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCount(before[start:])
}

// trailingComma reports whether the byte at off closes an object or list right after a comma,
// and returns the comma's offset.
func trailingComma(data []byte, off int) (int, bool) {
	if off < 0 || off >= len(data) || (data[off] != '}' && data[off] != ']') {
		return 0, false
	}
	i := len(bytes.TrimRight(data[:off], " \t\r\n")) - 1
	if i >= 0 && data[i] == ',' {
		return i, true
	}
	return 0, false
}
