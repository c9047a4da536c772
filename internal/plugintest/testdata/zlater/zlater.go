// Package zlater is imported by the usea and usec test plugins and by no gateway package. It
// does not import shared, and its path sorts after it: the runtime initialises it after shared,
// so it has not started when shared's init panics in usea.
package zlater

import "strings"

// Ready is set by init.
var Ready = strings.Repeat("re", 1) + "ady"
