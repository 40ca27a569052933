package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Body caps: a discovery document is small; a token answer may carry large JWTs.
const (
	MaxDiscoveryBytes = 64 << 10
	MaxTokenBytes     = 1 << 20
)

// Token is a successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
type Token struct {
	AccessToken  string
	TokenType    string
	RefreshToken string
	Scope        string        // as granted; empty when the provider did not say
	IDToken      string        // raw JWT, when the scope held openid
	ExpiresIn    time.Duration // 0 when the provider did not say
}

// readCapped reads at most limit bytes of r; a longer body is an error, not a truncation.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("answer larger than %d bytes", limit)
	}
	return b, nil
}

// postForm POSTs form to endpoint and returns the status and the capped body.
func postForm(ctx context.Context, hc *http.Client, endpoint string, form url.Values, basic [2]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, fmt.Errorf("oidc: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic[0] != "" {
		// RFC 6749 §2.3.1: both parts are form-urlencoded before they go into Basic.
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("oidc: POST %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, err := readCapped(resp.Body, MaxTokenBytes)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("oidc: POST %s: HTTP %d: %w", endpoint, resp.StatusCode, err)
	}
	if !isJSON(resp.Header.Get("Content-Type"), body) {
		return resp.StatusCode, body, fmt.Errorf("oidc: POST %s: HTTP %d: the answer is not JSON (%s)", endpoint, resp.StatusCode, describeBody(resp.Header.Get("Content-Type"), body))
	}
	return resp.StatusCode, body, nil
}

// isJSON accepts a JSON media type, or no media type with a body that looks like an object.
func isJSON(ct string, body []byte) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return true
	}
	return (mt == "" || mt == "text/plain") && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))
}

func describeBody(ct string, body []byte) string {
	if ct == "" {
		ct = "no Content-Type"
	}
	return fmt.Sprintf("%s, %d bytes", ct, len(body))
}

// oauthErrorFrom returns the *Error an answer holds, or nil.
func oauthErrorFrom(status int, body []byte) *Error {
	var e struct {
		Code string `json:"error"`
		Desc string `json:"error_description"`
		URI  string `json:"error_uri"`
	}
	if json.Unmarshal(body, &e) != nil || e.Code == "" {
		return nil
	}
	return &Error{Code: e.Code, Description: e.Desc, URI: e.URI, Status: status}
}

// parseTokenResponse reads a token endpoint answer: a *Token on 2xx with an access token, an
// *Error for an OAuth error (some providers send it with 200), another error otherwise.
func parseTokenResponse(status int, body []byte) (*Token, error) {
	if e := oauthErrorFrom(status, body); e != nil {
		return nil, e
	}
	if status < 200 || status > 299 {
		return nil, fmt.Errorf("oidc: token endpoint answered HTTP %d without an OAuth error", status)
	}
	var raw struct {
		AccessToken  string          `json:"access_token"`
		TokenType    string          `json:"token_type"`
		RefreshToken string          `json:"refresh_token"`
		Scope        string          `json:"scope"`
		IDToken      string          `json:"id_token"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("oidc: token response: %w", err)
	}
	if raw.AccessToken == "" {
		return nil, errors.New("oidc: token response has no access_token")
	}
	exp, err := parseSeconds(raw.ExpiresIn)
	if err != nil {
		return nil, fmt.Errorf("oidc: token response: expires_in: %w", err)
	}
	return &Token{AccessToken: raw.AccessToken, TokenType: raw.TokenType, RefreshToken: raw.RefreshToken,
		Scope: raw.Scope, IDToken: raw.IDToken, ExpiresIn: exp}, nil
}

// parseSeconds reads a count of seconds sent as a JSON number or a numeric string (some
// providers quote it); absent or null is 0.
func parseSeconds(m json.RawMessage) (time.Duration, error) {
	s := strings.TrimSpace(string(m))
	if s == "" || s == "null" {
		return 0, nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(m, &s); err != nil {
			return 0, err
		}
		s = strings.TrimSpace(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e9 {
		return 0, fmt.Errorf("not a number of seconds: %.40q", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}
