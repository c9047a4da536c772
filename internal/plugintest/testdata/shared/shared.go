// Package shared is imported by the usea and useb test plugins and by no gateway package: it
// comes into the process with the first of them that loads. Its init panics while the file the
// environment variable GATEHOUSE_TEST_SHARED_PANIC names exists.
package shared

import (
	"fmt"
	"os"
)

// Name is set by init.
var Name string

func init() {
	if flag := os.Getenv("GATEHOUSE_TEST_SHARED_PANIC"); flag != "" {
		if _, err := os.Stat(flag); err == nil {
			panic("shared: the flag file " + flag + " exists")
		}
	}
	Name = fmt.Sprint("shared")
}
