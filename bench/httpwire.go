package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// The latency mode's load generator and upstream speak just enough HTTP/1.1 over raw TCP to
// measure a proxy: a request or response head is read line by line from a bufio.Reader
// (ReadSlice, no copy), only the fields that frame the message are looked at, and a body is
// skipped (Content-Length or chunked) rather than read into memory. Nothing here allocates per
// message. Anything it does not understand is an error, and the caller drops the connection.

var (
	errMalformed = errors.New("malformed HTTP message")
	errChunkSize = errors.New("bad chunk size")
	errTooLarge  = errors.New("HTTP head too large: a line longer than the read buffer, or header lines over 1 MiB")
	errInterim   = errors.New("more than 5 interim (1xx) HTTP answers")
)

// maxHeadBytes bounds the header lines of a head, or a chunked body's trailers, as net/http's
// DefaultMaxHeaderBytes does its server's; maxInterim the 1xx answers before a final one, as
// net/http's client does. A peer sending head lines without end gets an error, not a reader that
// keeps reading them for as long as it sends (and, in the raw upstream, collecting names).
const (
	maxHeadBytes = 1 << 20
	maxInterim   = 5
)

// head is what frames one HTTP/1.x message.
type head struct {
	status        int   // responses: the status code
	contentLength int64 // -1 when absent
	chunked       bool  // Transfer-Encoding names chunked
	otherCoding   bool  // Transfer-Encoding names anything else
	close         bool  // Connection: close, or HTTP/1.0
}

// readLine returns the next line of a head without its line ending, valid until br is read again.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errTooLarge
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readHeaders reads header lines up to the empty line that ends a head into h; for each one,
// seen (when not nil) gets its name and value too. Lines over maxHeadBytes in all are an error.
func readHeaders(br *bufio.Reader, h *head, seen func(name, value []byte)) error {
	h.contentLength = -1
	size := 0
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if size += len(line) + 2; size > maxHeadBytes {
			return errTooLarge
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || isSpace(line[0]) || isSpace(line[colon-1]) {
			return errMalformed // no name, an obsolete folded line, or space before the colon
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			n, ok := parseDecimal(value)
			if !ok || (h.contentLength >= 0 && h.contentLength != n) {
				return errMalformed
			}
			h.contentLength = n
		case asciiEqualFold(name, "transfer-encoding"):
			if asciiEqualFold(value, "chunked") {
				h.chunked = true
			} else {
				h.otherCoding = true
			}
		case asciiEqualFold(name, "connection"):
			if asciiContainsFold(value, "close") {
				h.close = true
			}
		}
		if seen != nil {
			seen(name, value)
		}
	}
}

// readResponse reads one response to a GET from br, body included (and thrown away), and
// returns its head. Interim 1xx responses are skipped. A response framed by neither
// Content-Length nor chunked coding runs to the end of the connection, which is then closed.
func readResponse(br *bufio.Reader) (head, error) {
	for interim := 0; ; interim++ {
		if interim > maxInterim {
			return head{}, errInterim
		}
		line, err := readLine(br)
		if err != nil {
			return head{}, err
		}
		// "HTTP/1.1 200 OK": the version, a space, three digits, then a space or the end.
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
			return head{}, errMalformed
		}
		status, ok := parseDecimal(line[9:12])
		if !ok || status < 100 {
			return head{}, errMalformed
		}
		h := head{status: int(status), close: line[7] == '0'}
		if err := readHeaders(br, &h, nil); err != nil {
			return head{}, err
		}
		switch {
		case h.status >= 100 && h.status < 200 && h.status != 101:
			continue // 100 Continue, 103 Early Hints: the final answer follows
		case h.status == 101 || h.otherCoding:
			return head{}, errMalformed // not something a GET through a proxy should get
		case h.status == 204 || h.status == 304:
			return h, nil
		case h.chunked:
			return h, skipChunked(br)
		case h.contentLength >= 0:
			_, err := br.Discard(int(h.contentLength))
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return h, err
		default:
			h.close = true
			_, err := io.Copy(io.Discard, br)
			return h, err
		}
	}
}

// skipChunked reads a chunked body and its trailers, throwing them away.
func skipChunked(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // a chunk extension
		}
		size, ok := parseHex(bytes.TrimSpace(line))
		if !ok {
			return errChunkSize
		}
		if size == 0 {
			return readHeaders(br, &head{}, nil) // trailers, up to the empty line
		}
		if _, err := br.Discard(int(size)); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if line, err := readLine(br); err != nil {
			return err
		} else if len(line) != 0 {
			return errChunkSize // the chunk was longer than its size said
		}
	}
}

// parseDecimal parses a non-negative decimal of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseHex parses a chunk size: at most 15 hexadecimal digits.
func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

// isSpace reports whether c is a space or a tab. A header line starting with one continues the
// last (obsolete line folding); a name ending with one ("Content-Length : 3") would not be
// recognised, so the message would be framed otherwise than its sender meant: both are errors.
func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// asciiEqualFold reports whether b equals lower, a lower-case ASCII string, ignoring case.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// asciiContainsFold reports whether b holds lower, a lower-case ASCII string, ignoring case.
func asciiContainsFold(b []byte, lower string) bool {
	for i := 0; i+len(lower) <= len(b); i++ {
		if asciiEqualFold(b[i:i+len(lower)], lower) {
			return true
		}
	}
	return false
}
