// Package oauth2ref is the reference client tokenscope's speed goals are measured against:
// golang.org/x/oauth2's Transport and ReuseTokenSource over the simplejwt wire format (the demo
// server's default convention), written as a user of x/oauth2 would write it. The benchmarks
// in apiclient and scripts/burstcmp use it; nothing in tokenscope itself does.
package oauth2ref

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

// The simplejwt endpoints, as the demo server serves them.
const (
	loginPath   = "/api/token/"
	refreshPath = "/api/token/refresh/"
)

// Login posts the username and password to the simplejwt login endpoint at base and returns
// the pair as an x/oauth2 token.
func Login(ctx context.Context, hc *http.Client, base, user, password string) (*oauth2.Token, error) {
	return post(ctx, hc, base+loginPath, map[string]string{"username": user, "password": password}, "")
}

// Refresher is the token source a ReuseTokenSource wraps: each Token call refreshes at the
// simplejwt refresh endpoint with the newest refresh token (the server rotates it).
type Refresher struct {
	hc   *http.Client
	base string

	mu      sync.Mutex // the refresh token in use; ReuseTokenSource calls Token one at a time anyway
	refresh string
	calls   atomic.Int64
}

// NewRefresher refreshes at base with tok's refresh token.
func NewRefresher(hc *http.Client, base string, tok *oauth2.Token) *Refresher {
	return &Refresher{hc: hc, base: base, refresh: tok.RefreshToken}
}

// Token refreshes once (oauth2.TokenSource).
func (r *Refresher) Token() (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls.Add(1)
	t, err := post(context.Background(), r.hc, r.base+refreshPath, map[string]string{"refresh": r.refresh}, r.refresh)
	if err != nil {
		return nil, err
	}
	r.refresh = t.RefreshToken
	return t, nil
}

// Calls is how many refreshes Token made.
func (r *Refresher) Calls() int64 { return r.calls.Load() }

// Client is the x/oauth2 client a user would write: a Transport over a ReuseTokenSource that
// takes a token early by early (x/oauth2's expiryDelta), over base.
func Client(tok *oauth2.Token, src oauth2.TokenSource, early time.Duration, base http.RoundTripper) *http.Client {
	return &http.Client{Transport: &oauth2.Transport{Source: oauth2.ReuseTokenSourceWithExpiry(tok, src, early), Base: base}}
}

// answer is the simplejwt token answer.
type answer struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// post sends body as JSON and reads the pair; a refresh answer without a refresh token keeps
// keep (the server did not rotate). The expiry is the access token's exp claim: simplejwt's
// answer has no expires_in.
func post(ctx context.Context, hc *http.Client, url string, body map[string]string, keep string) (*oauth2.Token, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil || a.Access == "" {
		return nil, fmt.Errorf("%s: no access token in the answer", url)
	}
	if a.Refresh == "" {
		a.Refresh = keep
	}
	t := &oauth2.Token{AccessToken: a.Access, RefreshToken: a.Refresh, TokenType: "Bearer"}
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(a.Access, &claims); err == nil && claims.ExpiresAt != nil {
		t.Expiry = claims.ExpiresAt.Time
	}
	return t, nil
}
