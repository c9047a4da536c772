package redis

import "testing"

// TestHashSlot checks the slot function against values Redis itself gives (CLUSTER KEYSLOT).
func TestHashSlot(t *testing.T) {
	for key, want := range map[string]uint16{
		"":                  0,
		"foo":               12182,
		"bar":               5061,
		"123456789":         12739, // CRC16/XMODEM's check value 0x31C3 % 16384
		"{user1000}.follow": 3443,
		"user1000":          3443,
		"foo{}{bar}":        8363, // an empty tag does not count: the whole key is hashed
		"foo{{bar}}zap":     4015, // the tag is "{bar"
	} {
		if got := hashSlot(key); got != want {
			t.Errorf("hashSlot(%q) = %d, want %d", key, got, want)
		}
	}
}
