package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/transport"
)

// Body caps: a discovery document is small; a token answer may carry large JWTs.
const (
	MaxDiscoveryBytes = 64 << 10
	MaxTokenBytes     = 1 << 20
)

// readCapped reads an answer's body as the engine reads every answer (transport.ReadBody); a body
// longer than limit is an error, not a truncation.
func readCapped(resp *http.Response, limit int) ([]byte, error) {
	b, err := transport.ReadBody(resp, limit)
	if errors.Is(err, transport.ErrBodyTooLarge) {
		return nil, fmt.Errorf("answer larger than %d bytes", limit)
	}
	return b, err
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
	body, err := readCapped(resp, MaxTokenBytes)
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

// tokenEndpoint is the wire format of a token endpoint's answers (RFC 6749 §5.1): the oauth2
// convention's, read by the one parser of token answers.
var tokenEndpoint, _ = profile.Builtin("oauth2")

// parseTokenResponse reads a token endpoint answer: tokens on 2xx with an access token, an
// *Error for an OAuth error (some providers send it with 200), another error otherwise.
// serverRecv is when it arrived on the provider's clock: opaque tokens' expiries count from it.
func parseTokenResponse(status int, body []byte, serverRecv time.Time) (profile.Answer, error) {
	if e := oauthErrorFrom(status, body); e != nil {
		return profile.Answer{}, e
	}
	if status < 200 || status > 299 {
		return profile.Answer{}, fmt.Errorf("oidc: token endpoint answered HTTP %d without an OAuth error", status)
	}
	// postForm accepted the body as JSON whatever its media type said.
	a, err := tokenEndpoint.ParseAnswer(http.Header{"Content-Type": {"application/json"}}, body, serverRecv, false)
	if err != nil {
		return profile.Answer{}, fmt.Errorf("oidc: token response: %w", err)
	}
	return a, nil
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
