// Package hdrname compares header names as the servers behind a gateway may read them: without
// ASCII case, and with '_' read as '-' (CGI's HTTP_X_NAME, WSGI, nginx with
// underscores_in_headers), so that a client cannot slip a header past a removal by spelling its
// name otherwise.
package hdrname

// Same reports whether a and b name the same header once case is ignored and '_' is read as '-'.
func Same(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if fold(a[i]) != fold(b[i]) {
			return false
		}
	}
	return true
}

func fold(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}
