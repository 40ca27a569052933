package apiclient

// The recorder: every HTTP exchange the engine makes (logins, refreshes, API calls), kept for
// evidence — a HAR 1.2 file (--har) that browser devtools and Insomnia open, and bodies in the
// JSON-lines log (--log-bodies). Bodies are capped, and secrets are masked when written, not
// when recorded: a token is only known to be one once its answer has been read.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
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
	// Generation and Token are the access token generation and fingerprint an API request's
	// attempt carried (from the engine's record); 0 and "" for other calls.
	Generation int
	Token      string
	taken      bool // handed out by TakeDone
}

// Recorder is an http.RoundTripper that records the exchanges going through it.
type Recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	ex   []*Exchange
	mask func(string) string
}

// NewRecorder records what goes through next.
func NewRecorder(next http.RoundTripper) *Recorder { return &Recorder{next: next} }

// SetMask adds a masking step for the text written (the engine's redaction, say).
func (r *Recorder) SetMask(f func(string) string) {
	r.mu.Lock()
	r.mask = f
	r.mu.Unlock()
}

// RoundTrip sends req through the next transport and records it and its answer; the answer's
// body reaches the caller unchanged while its first RecordedBodyMax bytes are kept.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	x := &Exchange{Started: time.Now(), Method: req.Method, URL: req.URL.String(), ReqHeader: req.Header.Clone()}
	fromRecord(x, req)
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

// fromRecord takes what the attacher's record says of an API request's attempt: its secret
// headers as the record masks them (a redirect hop keeps only those it still carries), the
// token's generation and fingerprint.
func fromRecord(x *Exchange, req *http.Request) {
	c := callOf(req.Context())
	if c == nil || len(c.attempts) == 0 {
		return
	}
	a := c.last()
	x.Generation, x.Token = a.Generation, a.Token
	for _, h := range a.Out.Header() {
		if h.Secret != SecretNone && x.ReqHeader.Get(h.Name) != "" {
			x.ReqHeader.Set(h.Name, h.Value)
		}
	}
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

// masked is a copy of x with its secrets masked. Called with r.mu held.
func (r *Recorder) masked(x *Exchange) Exchange {
	m := *x
	m.URL = r.maskText(m.URL)
	m.ReqHeader, m.RespHeader = r.maskHeader(m.ReqHeader), r.maskHeader(m.RespHeader)
	m.ReqBody, m.RespBody = []byte(r.maskText(string(m.ReqBody))), []byte(r.maskText(string(m.RespBody)))
	m.Err = r.maskText(m.Err)
	return m
}

// secretHeaders carry credentials whatever their value looks like.
var secretHeaders = map[string]bool{"Authorization": true, "Cookie": true, "Set-Cookie": true, "Dpop": true,
	"X-Token": true, "Apikey": true, "X-Api-Key": true, "Proxy-Authorization": true, "X-Csrf-Token": true}

func (r *Recorder) maskHeader(h http.Header) http.Header {
	out := http.Header{}
	for k, vs := range h {
		for _, v := range vs {
			if secretHeaders[http.CanonicalHeaderKey(k)] {
				v = maskCredential(v)
			}
			out.Add(k, r.maskText(v))
		}
	}
	return out
}

// maskCredential keeps a header's shape ("Bearer …", "refresh_token=…; Path=/auth") and hides
// the secret in it.
func maskCredential(v string) string {
	if scheme, _, ok := strings.Cut(v, " "); ok && !strings.Contains(scheme, "=") {
		return scheme + " [masked]"
	}
	if name, rest, ok := strings.Cut(v, "="); ok {
		attrs := ""
		if _, a, ok := strings.Cut(rest, ";"); ok {
			attrs = ";" + a
		}
		return name + "=[masked]" + attrs
	}
	return "[masked]"
}

var (
	// jwtLike is a JSON Web Token anywhere in text.
	jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	// secretFields are JSON members and form fields that hold credentials.
	secretJSON = regexp.MustCompile(`("(?i:[a-z_]*token|access|refresh|password|client_secret|code|code_verifier|device_code|secret|jwt|idToken|refreshToken|accessToken)"\s*:\s*")[^"]*(")`)
	secretForm = regexp.MustCompile(`((?:^|[&?])(?i:[a-z_]*token|password|client_secret|code|code_verifier|device_code|refresh|key)=)[^&\s;]*`)
)

// maskText hides tokens and credential fields in text, then applies the engine's mask.
func (r *Recorder) maskText(s string) string {
	s = jwtLike.ReplaceAllString(s, "[masked JWT]")
	s = secretJSON.ReplaceAllString(s, "${1}[masked]${2}")
	s = secretForm.ReplaceAllString(s, "${1}[masked]")
	if r.mask != nil {
		s = r.mask(s)
	}
	return s
}

// WriteHAR writes the exchanges as HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/).
func (r *Recorder) WriteHAR(w io.Writer, creator string) error {
	type nv struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	headers := func(h http.Header) []nv {
		out := []nv{}
		for k, vs := range h {
			for _, v := range vs {
				out = append(out, nv{k, v})
			}
		}
		return out
	}
	var entries []map[string]any
	for _, x := range r.Exchanges() {
		req := map[string]any{"method": x.Method, "url": x.URL, "httpVersion": "HTTP/1.1", "headers": headers(x.ReqHeader),
			"queryString": []nv{}, "cookies": []nv{}, "headersSize": -1, "bodySize": len(x.ReqBody)}
		if len(x.ReqBody) > 0 {
			req["postData"] = map[string]any{"mimeType": x.ReqHeader.Get("Content-Type"), "text": string(x.ReqBody)}
		}
		content := map[string]any{"size": len(x.RespBody), "mimeType": x.RespHeader.Get("Content-Type"), "text": string(x.RespBody)}
		if x.BodyTruncated {
			content["comment"] = "cut at 64 KiB"
		}
		resp := map[string]any{"status": x.Status, "statusText": http.StatusText(x.Status), "httpVersion": "HTTP/1.1",
			"headers": headers(x.RespHeader), "cookies": []nv{}, "content": content, "redirectURL": x.RespHeader.Get("Location"),
			"headersSize": -1, "bodySize": len(x.RespBody)}
		if x.Err != "" {
			resp["_error"] = x.Err
		}
		ms := float64(x.Duration.Microseconds()) / 1000
		entry := map[string]any{"startedDateTime": x.Started.Format(time.RFC3339Nano), "time": ms,
			"request": req, "response": resp, "cache": map[string]any{},
			"timings": map[string]any{"send": 0, "wait": ms, "receive": 0}}
		if x.Generation > 0 {
			entry["_generation"], entry["_token"] = x.Generation, x.Token
		}
		entries = append(entries, entry)
	}
	if entries == nil {
		entries = []map[string]any{}
	}
	doc := map[string]any{"log": map[string]any{"version": "1.2", "creator": map[string]string{"name": "tokenscope", "version": creator},
		"entries": entries}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Redact masks the engine's secrets in s (the password, the client secret, the current tokens,
// the profile's *_env values): what a recording of the session must not show.
func (e *Engine) Redact(s string) string {
	e.mu.Lock()
	secrets := []string{e.cfg.Password, e.cfg.ClientSecret, e.sess.Access.Raw, e.sess.Refresh.Raw}
	secrets = append(secrets, e.cookieSecretsLocked()...)
	secrets = append(secrets, e.hosted.Secrets...)
	e.mu.Unlock()
	return redactSecrets(s, secrets)
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
