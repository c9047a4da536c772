//go:build !linux

package plugin

import "os"

// identify returns false: without the change time, a file is hashed at every open.
func identify(os.FileInfo) (fileID, bool) { return fileID{}, false }
