package admin

import "time"

// SetProfileWriteStall sets how long one write of a profile may wait for its client, until
// restore.
func SetProfileWriteStall(d time.Duration) (restore func()) {
	old := profileWriteStall
	profileWriteStall = d
	return func() { profileWriteStall = old }
}
