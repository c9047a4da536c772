package strpack

import (
	"testing"
	"unsafe"
)

func TestPack(t *testing.T) {
	a, b, empty, c := string([]byte("api-1")), string([]byte("/api-1/")), "", string([]byte("http://127.0.0.1:9"))
	Pack(&a, &b, &empty, &c)
	if a != "api-1" || b != "/api-1/" || empty != "" || c != "http://127.0.0.1:9" {
		t.Fatalf("Pack changed the strings: %q %q %q %q", a, b, empty, c)
	}
	// One allocation: each string starts where the one before ended.
	if unsafe.StringData(b) != (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(a)), len(a))) ||
		unsafe.StringData(c) != (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(b)), len(b))) {
		t.Fatal("the strings were not packed into one allocation")
	}
	var none string
	Pack(&none) // nothing to pack: no allocation, no panic
	if none != "" {
		t.Fatalf("empty string became %q", none)
	}
	if n := testing.AllocsPerRun(100, func() {
		x, y := a, b
		Pack(&x, &y)
	}); n != 1 {
		t.Fatalf("Pack of two strings made %v allocations, want 1", n)
	}
}
