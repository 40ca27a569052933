package observe

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"io"
	"log"
	"net/http"
	"strings"
)

// discardLog silences ReverseProxy's own error lines: the analyzer records every failure as an
// event, and a line on stderr would garble a TUI.
var discardLog = log.New(io.Discard, "", 0)

// peekBody reads up to max bytes of a request body and puts them back in front of the rest, so
// that the upstream gets every byte as sent.
func peekBody(r *http.Request, max int) ([]byte, error) {
	buf, err := io.ReadAll(io.LimitReader(r.Body, int64(max)))
	if err != nil {
		return nil, err
	}
	r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
	return buf, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// capture passes an answer's body through unchanged while keeping its first max bytes; done is
// called once, at the end of the body, at a read error, or when the body is closed early.
type capture struct {
	rc        io.ReadCloser
	buf       []byte
	max       int
	truncated bool
	finished  bool
	done      func(body []byte, truncated bool)
}

func newCapture(rc io.ReadCloser, max int, done func([]byte, bool)) *capture {
	return &capture{rc: rc, max: max, done: done}
}

// Read is called by ReverseProxy's copy loop only, and Close after it: no lock is needed.
func (c *capture) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if n > 0 {
		room := c.max - len(c.buf)
		if n > room {
			c.truncated = true
		}
		if room > 0 {
			c.buf = append(c.buf, p[:min(n, room)]...)
		}
	}
	if err != nil {
		if err != io.EOF {
			c.truncated = true
		}
		c.finish()
	}
	return n, err
}

func (c *capture) Close() error {
	err := c.rc.Close()
	if !c.finished {
		c.truncated = true // the client went away before the end
	}
	c.finish()
	return err
}

func (c *capture) finish() {
	if c.finished {
		return
	}
	c.finished = true
	c.done(c.buf, c.truncated)
}

// decoded is the body as the analyzer reads it: gzip and deflate are undone (into at most max
// bytes); other encodings are left as they are, and will not parse.
func decoded(h http.Header, body []byte, max int) []byte {
	var zr io.Reader
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding"))) {
	case "gzip", "x-gzip":
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return body
		}
		zr = r
	case "deflate":
		zr = flate.NewReader(bytes.NewReader(body))
	default:
		return body
	}
	out, _ := io.ReadAll(io.LimitReader(zr, int64(max))) // a cut-off stream gives what it has
	return out
}
