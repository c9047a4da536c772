package jsonerr_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/internal/jsonerr"
)

func TestDescribe(t *testing.T) {
	decode := func(s string) error {
		var v struct {
			Active bool `json:"active"`
		}
		return json.Unmarshal([]byte(s), &v)
	}
	tests := []struct {
		name string
		data string
		err  error // when nil, the error of decoding data
		want string
	}{
		{name: "syntax error", data: "{\n  \"a\": x\n}", want: "invalid JSON at line 2, column 8: invalid character 'x' looking for beginning of value"},
		{name: "column in characters", data: "{\"s\": \"é\" \"x\": 1}", want: "invalid JSON at line 1, column 11: invalid character '\"' after object key:value pair"},
		{name: "trailing comma", data: "{\n  \"a\": 1,\n}\n",
			want: "invalid JSON at line 3, column 1: invalid character '}' looking for beginning of object key string" +
				" (JSON does not allow a trailing comma; remove the comma at line 2, column 9)"},
		{name: "trailing comma in a list", data: `{"a": [1, ]}`,
			want: "invalid JSON at line 1, column 11: invalid character ']' looking for beginning of value" +
				" (JSON does not allow a trailing comma; remove the comma at line 1, column 9)"},
		{name: "input ends too soon", data: `{"a":`, want: "invalid JSON at line 1, column 6: unexpected end of JSON input"},
		{name: "empty", data: " \n\t", want: "it is empty; it must hold a JSON object"},
		{name: "offset past the data is the end", data: "{\n  \"a\": x\n}", err: &json.SyntaxError{Offset: 1000}, want: "invalid JSON at line 3, column 2: "},
		{name: "type error", data: "{\n\n  \"active\": \"yes\"}", want: `field "active" at line 3, column 18: want bool, got JSON string`},
		{name: "other error", data: "{}", err: errors.New("boom"), want: "invalid JSON: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err
			if err == nil {
				err = decode(tc.data)
			}
			if err == nil {
				t.Fatalf("test bug: %q decodes", tc.data)
			}
			got := jsonerr.Describe([]byte(tc.data), err)
			if got.Error() != tc.want {
				t.Errorf("Describe = %q\nwant       %q", got, tc.want)
			}
			var se *json.SyntaxError
			if errors.As(err, &se) && tc.name != "empty" && !errors.Is(got, err) {
				t.Errorf("Describe does not wrap the syntax error")
			}
		})
	}
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncé\nx")
	tests := []struct{ off, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {4, 2, 2}, {6, 2, 3}, {7, 3, 1}, {100, 3, 2}, {-1, 1, 1},
	}
	for _, tc := range tests {
		if l, c := jsonerr.Position(data, tc.off); l != tc.line || c != tc.col {
			t.Errorf("Position(%d) = %d, %d; want %d, %d", tc.off, l, c, tc.line, tc.col)
		}
	}
}
