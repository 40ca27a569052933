// Package har is HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), the one type set
// tokenscope writes (--har) and reads (observe --har). Reading streams the entries one by one
// under a byte and a count cap, so that a hostile file cannot make the reader hold more than
// one entry it has not yet handed over. tokenscope's own files carry, in the custom field
// _tokenscope of each entry, the fingerprints of the tokens the request carried and the answer
// brought (the tokens themselves are masked). Recorder (recorder.go) is the transport that
// records what the engine sends, for --har and --log-bodies.
package har

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// Log is the document's log: who wrote it and its entries.
type Log struct {
	Version string  `json:"version"`
	Creator Creator `json:"creator"`
	Entries []Entry `json:"entries"`
}

// Creator names the program that wrote the file.
type Creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Entry is one exchange.
type Entry struct {
	Started  time.Time `json:"startedDateTime"`
	Time     float64   `json:"time"` // ms, the whole exchange
	Request  Request   `json:"request"`
	Response Response  `json:"response"`
	Cache    struct{}  `json:"cache"`
	Timings  Timings   `json:"timings"`
	// Tokens are the fingerprints of the tokens the exchange carried; tokenscope's own files.
	Tokens *Tokens `json:"_tokenscope,omitempty"`
}

// Request is what went out.
type Request struct {
	Method      string    `json:"method"`
	URL         string    `json:"url"`
	HTTPVersion string    `json:"httpVersion"`
	Headers     []NV      `json:"headers"`
	QueryString []NV      `json:"queryString"`
	Cookies     []NV      `json:"cookies"`
	HeadersSize int       `json:"headersSize"`
	BodySize    int       `json:"bodySize"`
	PostData    *PostData `json:"postData,omitempty"`
}

// PostData is a request's body.
type PostData struct {
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

// Response is the answer.
type Response struct {
	Status      int     `json:"status"`
	StatusText  string  `json:"statusText"`
	HTTPVersion string  `json:"httpVersion"`
	Headers     []NV    `json:"headers"`
	Cookies     []NV    `json:"cookies"`
	Content     Content `json:"content"`
	RedirectURL string  `json:"redirectURL"`
	HeadersSize int     `json:"headersSize"`
	BodySize    int     `json:"bodySize"`
	Error       string  `json:"_error,omitempty"` // why there was no answer
}

// Content is an answer's body; Encoding "base64" when Text is base64.
type Content struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
	Encoding string `json:"encoding,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// Timings are the phases of an exchange, in ms.
type Timings struct {
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
}

// NV is a name and a value: a header, a cookie, a query parameter.
type NV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Tokens are the tokens an exchange carried, by fingerprint.
type Tokens struct {
	Sent     []Token `json:"sent,omitempty"`     // in the request
	Received []Token `json:"received,omitempty"` // in the answer
	// Generation is the access token generation an API request carried (tokenscope's own
	// requests: the engine's record of the attempt); 0 when not known.
	Generation int `json:"generation,omitempty"`
}

// Token is one token: its kind (access, refresh, id_token, dpop) and fingerprint.
type Token struct {
	Kind string `json:"kind"`
	FP   string `json:"fp"`
}

// Headers are h as name-value pairs, sorted by name so that files compare.
func Headers(h http.Header) []NV {
	out := []NV{}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			out = append(out, NV{k, v})
		}
	}
	return out
}

// Header is the pairs as a header; HTTP/2 pseudo-headers (:authority) are not headers.
func Header(nvs []NV) http.Header {
	h := http.Header{}
	for _, x := range nvs {
		if x.Name != "" && x.Name[0] != ':' {
			h.Add(x.Name, x.Value)
		}
	}
	return h
}

// Write writes a HAR 1.2 document.
func Write(w io.Writer, creator Creator, entries []Entry) error {
	if entries == nil {
		entries = []Entry{}
	}
	doc := struct {
		Log Log `json:"log"`
	}{Log{Version: "1.2", Creator: creator, Entries: entries}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Limits cap what Read takes from a file.
type Limits struct {
	MaxBytes   int64 // the document; more is an error
	MaxEntries int   // entries; more is an error
}

// ErrTooLarge is a HAR past a cap.
var ErrTooLarge = errors.New("HAR: over the cap")

// Read streams the entries of a HAR document to each, in file order, and stops at the first
// error each returns.
func Read(r io.Reader, lim Limits, each func(i int, e Entry) error) error {
	cr := &capReader{r: r, max: lim.MaxBytes}
	dec := json.NewDecoder(cr)
	err := read(dec, lim, each)
	if cr.over {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	return err
}

func read(dec *json.Decoder, lim Limits, each func(int, Entry) error) error {
	found := false
	err := object(dec, func(key string) error {
		if key != "log" {
			return skip(dec)
		}
		return object(dec, func(key string) error {
			if key != "entries" {
				return skip(dec)
			}
			found = true
			return entries(dec, lim, each)
		})
	})
	if err != nil {
		return err
	}
	if !found {
		return errors.New("HAR: not a HAR file: no log.entries")
	}
	return nil
}

func entries(dec *json.Decoder, lim Limits, each func(int, Entry) error) error {
	if err := delim(dec, '['); err != nil {
		return err
	}
	for i := 0; dec.More(); i++ {
		if lim.MaxEntries > 0 && i >= lim.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrTooLarge, lim.MaxEntries)
		}
		var e Entry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("HAR: entry %d: %v", i+1, err)
		}
		if err := each(i, e); err != nil {
			return err
		}
	}
	return delim(dec, ']')
}

// object reads a JSON object, calling member for each key with the decoder at its value.
func object(dec *json.Decoder, member func(key string) error) error {
	if err := delim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("HAR: not a HAR file: %v", err)
		}
		key, _ := t.(string)
		if err := member(key); err != nil {
			return err
		}
	}
	return delim(dec, '}')
}

func delim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return fmt.Errorf("HAR: not a HAR file: %v", err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("HAR: not a HAR file: %v where %v belongs", t, want)
	}
	return nil
}

// skip reads past one value, token by token, holding no more than one token of it.
func skip(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("HAR: not a HAR file: %v", err)
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// capReader fails once more than max bytes came through (max <= 0: no cap).
type capReader struct {
	r    io.Reader
	max  int64
	n    int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.max > 0 && int64(len(p)) > c.max+1-c.n {
		p = p[:c.max+1-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.max > 0 && c.n > c.max {
		c.over = true
		return 0, ErrTooLarge
	}
	return n, err
}
