package dpop

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"tokenscope/internal/hostcheck"
)

// Role is which kind of server a nonce came from. An authorization server and a resource
// server hand out nonces of their own (RFC 9449 §8, §9), even at one origin, so they are kept
// apart.
type Role int

// Roles.
const (
	AuthServer     Role = iota // token endpoint, PAR
	ResourceServer             // calls with Authorization: DPoP
)

func (r Role) String() string { return [...]string{"authorization server", "resource server"}[r] }

// Nonces keeps the latest nonce per role and origin. Safe for concurrent use.
type Nonces struct {
	mu sync.Mutex
	m  map[nonceKey]string
}

type nonceKey struct {
	role   Role
	origin string
}

// originKey keys a nonce by role and origin, as every other "same place?" in tokenscope is
// answered (hostcheck.OriginOf): https://AS.test and https://as.test:443 share a nonce.
func originKey(role Role, u *url.URL) nonceKey {
	return nonceKey{role, hostcheck.OriginOf(u)}
}

// Get is the nonce to send to u, or "".
func (n *Nonces) Get(role Role, u *url.URL) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m[originKey(role, u)]
}

// Set keeps nonce as the one to send to u's origin from now on; an empty nonce changes nothing.
func (n *Nonces) Set(role Role, u *url.URL, nonce string) {
	if nonce == "" || len(nonce) > maxNonce {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = map[nonceKey]string{}
	}
	n.m[originKey(role, u)] = nonce
}

// maxNonce caps what a server may make the client store and send back: nonces are short.
const maxNonce = 1024

// maxErrorBody is how much of a 400 the transport reads to find use_dpop_nonce in it.
const maxErrorBody = 64 << 10

// Transport puts a DPoP proof on the calls that need one and passes the rest through:
//
//   - a request with Authorization: DPoP <token> is a resource call: its proof carries ath;
//   - a request TokenCall accepts (a POST to the token or PAR endpoint) is a token call.
//
// Each attempt gets a proof of its own with a new jti, a same-origin redirect included, and
// every answer's DPoP-Nonce is kept for the next call to that server. An authorization server's
// 400 use_dpop_nonce or a resource server's 401 with error="use_dpop_nonce" is answered once by
// sending the request again with the nonce (RFC 9449 §8, §9): the server refused it before doing
// anything, so even a POST is safe to resend.
type Transport struct {
	Base      http.RoundTripper // required
	Key       *Key              // required
	Now       func() time.Time  // iat: the server's clock as the caller estimates it; nil is time.Now
	TokenCall func(*http.Request) bool
	OnProof   func(*http.Request, Proof) // each proof sent, with the request it went on
	Nonces    Nonces
}

// RoundTrip implements http.RoundTripper. It never changes req: the proof goes on a copy.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	role, token, ok := t.classify(req)
	if !ok {
		return t.Base.RoundTrip(req)
	}
	resp, err := t.send(req, req.Body, role, token, false)
	if err != nil || !t.askedForNonce(role, resp) {
		return resp, err
	}
	body, ok := rewind(req)
	if !ok {
		return resp, nil // a body that cannot be sent again: the caller gets the refusal
	}
	drainClose(resp.Body)
	return t.send(req, body, role, token, true)
}

// classify says whether req needs a proof, for which role, and the access token it carries.
func (t *Transport) classify(req *http.Request) (Role, string, bool) {
	if scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, Scheme) {
		if tok = strings.TrimSpace(tok); tok != "" {
			return ResourceServer, tok, true
		}
	}
	if t.TokenCall != nil && t.TokenCall(req) {
		return AuthServer, "", true
	}
	return 0, "", false
}

// send makes one attempt with a fresh proof and keeps the nonce the answer brings.
func (t *Transport) send(req *http.Request, body io.ReadCloser, role Role, token string, retry bool) (*http.Response, error) {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	proof, info, err := t.Key.Sign(req.Method, req.URL, now(), t.Nonces.Get(role, req.URL), token)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err
	}
	info.Retry = retry
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set(Header, proof)
	if t.OnProof != nil {
		t.OnProof(req, info)
	}
	resp, err := t.Base.RoundTrip(r)
	if err == nil {
		t.Nonces.Set(role, req.URL, resp.Header.Get(NonceHeader))
	}
	return resp, err
}

// askedForNonce reports whether resp is the server asking for a nonce it has just supplied.
// A 400 body is read to find out and put back for the caller.
func (t *Transport) askedForNonce(role Role, resp *http.Response) bool {
	if resp.Header.Get(NonceHeader) == "" {
		return false // nothing new to send
	}
	if role == ResourceServer {
		return resp.StatusCode == http.StatusUnauthorized &&
			strings.Contains(resp.Header.Get("WWW-Authenticate"), "use_dpop_nonce")
	}
	if resp.StatusCode != http.StatusBadRequest || resp.Body == nil {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(head), resp.Body), c: resp.Body}
	if err != nil {
		return false
	}
	var e struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(head, &e) == nil && e.Error == "use_dpop_nonce"
}

// rewind returns the request's body afresh for a second attempt; ok is false when it cannot be
// had again.
func rewind(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	return b, err == nil
}

// replayBody is a response body whose start was read already.
type replayBody struct {
	io.Reader
	c io.Closer
}

func (b *replayBody) Close() error { return b.c.Close() }

// drainClose reads a little of a refused answer so that its connection can be reused.
func drainClose(b io.ReadCloser) {
	if b == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(b, maxErrorBody))
	_ = b.Close()
}

// CloseIdleConnections passes on to the base transport, so that http.Client.CloseIdleConnections
// still reaches it through the wrapper.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.Base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
