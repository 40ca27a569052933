package transport

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"

	"tokenscope/session"
)

// ErrBodyTooLarge is an answer whose body is longer than the reader was allowed to read.
var ErrBodyTooLarge = errors.New("response body too large")

// ReadBody reads and closes an answer's body, refusing one longer than limit bytes (no limit
// when limit ≤ 0). A body sized by Content-Length is read into one buffer of that size, with
// no copy; a gzip body net/http left encoded (the request asked for gzip itself) is decoded,
// the limit counting decoded bytes.
func ReadBody(resp *http.Response, limit int) ([]byte, error) {
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	size := resp.ContentLength
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") && size != 0 && resp.Body != http.NoBody {
		if _, ok := r.(*gzip.Reader); !ok {
			zr, err := gzip.NewReader(r)
			if err == io.EOF {
				return []byte{}, nil // no body at all, as net/http's own gzip reader has it
			}
			if err != nil {
				return nil, err
			}
			defer zr.Close()
			r, size = zr, -1
		}
	}
	if limit <= 0 {
		limit = math.MaxInt - 1
	}
	// Content-Length sizes the buffer, but only the bytes read are held against the limit: the
	// answer to a HEAD, a 204 or a 304 may name a length it does not carry.
	if size < 0 || size > 1<<20 {
		size = 512 // unknown, or too large to take on the server's word before reading it
	}
	size = min(size, int64(limit))
	// One byte more than the limit is read, so a body of exactly limit bytes is not refused.
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit+1)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return nil, ErrBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Describe makes a transport error readable, and short: a malformed answer's error quotes
// what the server sent (a status line, a header), which may be long.
func Describe(err error) string {
	var ne interface{ Timeout() bool }
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return session.Clip("timeout: " + err.Error())
	case errors.Is(err, ErrBodyTooLarge):
		return "response body too large (over the configured limit)"
	}
	return session.Clip(err.Error())
}
