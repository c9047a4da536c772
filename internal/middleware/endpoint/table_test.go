package endpoint

import "testing"

func TestTable(t *testing.T) {
	var tb Table[int]
	if !tb.Empty() {
		t.Fatal("a new table is not empty")
	}
	for _, e := range []struct {
		path, method string
		ignoreCase   bool
		v            int
	}{{"/upload", "post", false, 1}, {"/upload/big", "POST", false, 2}, {"/Files/{id}", "PUT", true, 3}} {
		if err := tb.Add("v1", "entry", e.path, e.method, e.ignoreCase, e.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Add("v1", "entry", "/bad(", "GET", false, 9); err == nil {
		t.Error("an invalid pattern was accepted")
	}
	tests := []struct {
		version, method, path string
		want                  int
		ok                    bool
	}{
		{"v1", "POST", "/upload", 1, true},
		{"v1", "POST", "/upload/big", 1, true}, // the first entry that matches wins, as in Tyk
		{"v1", "POST", "/v2/upload", 1, true},  // anywhere in the path, as in Tyk
		{"v1", "GET", "/upload", 0, false},
		{"v1", "PUT", "/files/7", 3, true},
		{"v1", "PUT", "/files/7;x=1/../", 3, true},
		{"v2", "POST", "/upload", 0, false},
		{"v1", "POST", "/;x=1/upload", 1, true}, // a matrix reading matches too
	}
	for _, tc := range tests {
		got, ok := tb.Lookup(tc.version, tc.method, Readings(tc.path))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%s %s %s) = %d, %v; want %d, %v", tc.version, tc.method, tc.path, got, ok, tc.want, tc.ok)
		}
	}
	var nilTable *Table[int]
	if _, ok := nilTable.Lookup("v1", "GET", []string{"/"}); ok || !nilTable.Empty() {
		t.Error("a nil table matched")
	}
}
