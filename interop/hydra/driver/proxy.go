package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// tokenCall is one call to Hydra's token (or device authorization) endpoint as the counting
// proxy saw it.
type tokenCall struct {
	At      time.Time
	Path    string
	Grant   string // grant_type; "" for a device authorization request
	Client  string // client_id from the form or from Basic
	Refresh string // fingerprint of the refresh_token presented, if any
	Status  int
	Took    time.Duration
}

// countingProxy stands in front of Hydra's public port, at the issuer's address, so that every
// call the engine makes to Hydra (discovery, keys, token endpoint) goes through it. It records
// each token endpoint call: what grant, which refresh token, when and with what answer.
type countingProxy struct {
	rp *httputil.ReverseProxy

	mu    sync.Mutex
	calls []tokenCall
}

func newCountingProxy(upstream *url.URL) *countingProxy {
	return &countingProxy{rp: httputil.NewSingleHostReverseProxy(upstream)}
}

// fingerprint names a token without keeping it.
func fingerprint(tok string) string {
	if tok == "" {
		return ""
	}
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:6])
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (p *countingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || (r.URL.Path != "/oauth2/token" && r.URL.Path != "/oauth2/device/auth") {
		p.rp.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	c := tokenCall{At: time.Now(), Path: r.URL.Path, Grant: form.Get("grant_type"), Client: form.Get("client_id"),
		Refresh: fingerprint(form.Get("refresh_token"))}
	if u, _, ok := r.BasicAuth(); ok {
		c.Client, _ = url.QueryUnescape(u)
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	p.rp.ServeHTTP(rec, r)
	c.Status, c.Took = rec.status, time.Since(c.At)
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.mu.Unlock()
}

// mark is where the log stands now, for since.
func (p *countingProxy) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// since lists the calls after mark with the grant type given ("" for all).
func (p *countingProxy) since(mark int, grant string) []tokenCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []tokenCall
	for _, c := range p.calls[mark:] {
		if grant == "" || c.Grant == grant {
			out = append(out, c)
		}
	}
	return out
}
