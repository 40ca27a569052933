package har

// The recorder: every HTTP exchange the engine makes (logins, refreshes, API calls), kept for
// evidence — a HAR 1.2 file (--har) that browser devtools and Insomnia open, and bodies in the
// JSON-lines log (--log-bodies). Bodies are capped, and secrets are masked when written, not
// when recorded: a token is only known to be one once its answer has been read.

import (
	"io"
	"net/http"
	"sync"
	"time"

	"tokenscope/internal/redact"
)

// RecordedBodyMax caps each recorded body.
const RecordedBodyMax = 64 << 10

// maxRecorded bounds the exchanges kept; the oldest go first.
const maxRecorded = 10_000

// Exchange is one recorded request and its answer.
type Exchange struct {
	Started       time.Time
	Duration      time.Duration
	Method, URL   string
	ReqHeader     http.Header
	ReqBody       []byte
	Status        int
	RespHeader    http.Header
	RespBody      []byte
	BodyTruncated bool
	Err           string
	// Sent and Received are the session's tokens the request carried and the answer brought,
	// by fingerprint: filled in when masked.
	Sent, Received []redact.Found
	// Generation is the access token generation an API request's attempt carried, from the
	// engine's record of the attempt; 0 for other calls.
	Generation int
	taken      bool // handed out by TakeDone
}

// Recorder is an http.RoundTripper that records the exchanges going through it.
type Recorder struct {
	// Generation, when set, names the access-token generation a request carried (the engine's
	// apiclient.RequestGeneration); 0 for a call that carries none.
	Generation func(*http.Request) int

	next    http.RoundTripper
	mu      sync.Mutex
	ex      []*Exchange
	secrets *redact.Secrets
}

// NewRecorder records what goes through next.
func NewRecorder(next http.RoundTripper) *Recorder { return &Recorder{next: next} }

// SetSecrets masks what the recorder hands out with the session's secrets (Engine.Secrets).
func (r *Recorder) SetSecrets(s *redact.Secrets) {
	r.mu.Lock()
	r.secrets = s
	r.mu.Unlock()
}

// RoundTrip sends req through the next transport and records it and its answer; the answer's
// body reaches the caller unchanged while its first RecordedBodyMax bytes are kept.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	x := &Exchange{Started: time.Now(), Method: req.Method, URL: req.URL.String(), ReqHeader: req.Header.Clone()}
	if r.Generation != nil {
		x.Generation = r.Generation(req)
	}
	if req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			x.ReqBody, _ = io.ReadAll(io.LimitReader(b, RecordedBodyMax))
			b.Close()
		}
	}
	r.add(x)
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		r.finish(x, func() { x.Err, x.Duration = err.Error(), time.Since(x.Started) })
		return resp, err
	}
	r.finish(x, func() { x.Status, x.RespHeader = resp.StatusCode, resp.Header.Clone() })
	resp.Body = &tapBody{rc: resp.Body, r: r, x: x}
	return resp, nil
}

func (r *Recorder) add(x *Exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ex = append(r.ex, x)
	if len(r.ex) > maxRecorded {
		r.ex = r.ex[len(r.ex)-maxRecorded:]
	}
}

func (r *Recorder) finish(x *Exchange, f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
}

// tapBody keeps the first bytes of an answer as the caller reads it.
type tapBody struct {
	rc   io.ReadCloser
	r    *Recorder
	x    *Exchange
	done bool
}

func (t *tapBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	t.r.finish(t.x, func() {
		if room := RecordedBodyMax - len(t.x.RespBody); room > 0 {
			t.x.RespBody = append(t.x.RespBody, p[:min(n, room)]...)
		}
		if n > 0 && len(t.x.RespBody) == RecordedBodyMax {
			t.x.BodyTruncated = true
		}
		if err != nil && !t.done {
			t.done, t.x.Duration = true, time.Since(t.x.Started)
		}
	})
	return n, err
}

func (t *tapBody) Close() error {
	t.r.finish(t.x, func() {
		if !t.done {
			t.done, t.x.Duration = true, time.Since(t.x.Started)
		}
	})
	return t.rc.Close()
}

// Exchanges returns the recorded exchanges, masked: what may leave the program.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Exchange, 0, len(r.ex))
	for _, x := range r.ex {
		out = append(out, r.masked(x))
	}
	return out
}

// masked is a copy of x with its secrets masked, by the session's secrets and where
// credentials sit (redact.Secrets.Evidence). Called with r.mu held.
func (r *Recorder) masked(x *Exchange) Exchange {
	m := *x
	sec := r.secrets
	m.URL, m.Sent = sec.Evidence(m.URL, nil)
	m.ReqHeader, m.Sent = sec.EvidenceHeader(m.ReqHeader, m.Sent)
	var body string
	body, m.Sent = sec.Evidence(string(m.ReqBody), m.Sent)
	m.ReqBody = []byte(body)
	m.RespHeader, m.Received = sec.EvidenceHeader(m.RespHeader, nil)
	body, m.Received = sec.Evidence(string(m.RespBody), m.Received)
	m.RespBody = []byte(body)
	m.Err, _ = sec.Evidence(m.Err, nil)
	return m
}

// WriteHAR writes the exchanges as HAR 1.2, each with the fingerprints of the tokens it
// carried in its _tokenscope field.
func (r *Recorder) WriteHAR(w io.Writer, creator string) error {
	var entries []Entry
	for _, x := range r.Exchanges() {
		entries = append(entries, harEntry(x))
	}
	return Write(w, Creator{Name: "tokenscope", Version: creator}, entries)
}

func harEntry(x Exchange) Entry {
	req := Request{Method: x.Method, URL: x.URL, HTTPVersion: "HTTP/1.1", Headers: Headers(x.ReqHeader),
		QueryString: []NV{}, Cookies: []NV{}, HeadersSize: -1, BodySize: len(x.ReqBody)}
	if len(x.ReqBody) > 0 {
		req.PostData = &PostData{MimeType: x.ReqHeader.Get("Content-Type"), Text: string(x.ReqBody)}
	}
	content := Content{Size: len(x.RespBody), MimeType: x.RespHeader.Get("Content-Type"), Text: string(x.RespBody)}
	if x.BodyTruncated {
		content.Comment = "cut at 64 KiB"
	}
	resp := Response{Status: x.Status, StatusText: http.StatusText(x.Status), HTTPVersion: "HTTP/1.1",
		Headers: Headers(x.RespHeader), Cookies: []NV{}, Content: content, RedirectURL: x.RespHeader.Get("Location"),
		HeadersSize: -1, BodySize: len(x.RespBody), Error: x.Err}
	ms := float64(x.Duration.Microseconds()) / 1000
	return Entry{Started: x.Started, Time: ms, Request: req, Response: resp, Timings: Timings{Wait: ms}, Tokens: x.Tokens()}
}

// Tokens are the fingerprints of the tokens the exchange carried, as HAR's _tokenscope field
// and --log-bodies write them; nil when it carried none.
func (x Exchange) Tokens() *Tokens {
	if len(x.Sent)+len(x.Received) == 0 && x.Generation == 0 {
		return nil
	}
	return &Tokens{Sent: harTokens(x.Sent), Received: harTokens(x.Received), Generation: x.Generation}
}

func harTokens(fs []redact.Found) []Token {
	var out []Token
	for _, f := range fs {
		out = append(out, Token{Kind: f.Kind.String(), FP: f.FP})
	}
	return out
}

// TakeDone returns, masked, the exchanges whose answers have been read (or failed) since the
// last call, oldest first: what --log-bodies writes as it goes.
func (r *Recorder) TakeDone() []Exchange {
	r.mu.Lock()
	var done []*Exchange
	for _, x := range r.ex {
		if !x.taken && (x.Duration > 0 || x.Err != "") {
			x.taken = true
			done = append(done, x)
		}
	}
	r.mu.Unlock()
	out := make([]Exchange, 0, len(done))
	for _, x := range done {
		r.mu.Lock()
		m := r.masked(x)
		r.mu.Unlock()
		out = append(out, m)
	}
	return out
}
