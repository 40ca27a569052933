package oidc

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

// TestParseTokenResponse: RFC 6749 §5.1 answers, expires_in as a number or a numeric string,
// §5.2 errors typed, and a 200 carrying an error.
func TestParseTokenResponse(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	tok, err := parseTokenResponse(200, []byte(`{"access_token":"a","token_type":"Bearer","expires_in":"3600","refresh_token":"r","scope":"openid","id_token":"i"}`), at)
	if err != nil || tok.Access.ExpiresAt != at.Add(time.Hour) || tok.Refresh.Raw != "r" || tok.IDToken.Raw != "i" || tok.Scope != "openid" || tok.TokenType != "Bearer" {
		t.Fatalf("%+v %v", tok, err)
	}
	tok, err = parseTokenResponse(200, []byte(`{"access_token":"a","expires_in":299.5}`), at)
	if err != nil || tok.Access.ExpiresAt != at.Add(299500*time.Millisecond) || !tok.Refresh.Empty() {
		t.Fatalf("%+v %v", tok, err)
	}
	// null says nothing: no expiry, no refresh token.
	tok, err = parseTokenResponse(200, []byte(`{"access_token":"a","expires_in":null,"refresh_token":null}`), at)
	if err != nil || !tok.Access.ExpiresAt.IsZero() || !tok.Refresh.Empty() {
		t.Fatalf("%+v %v", tok, err)
	}
	for _, bad := range []string{`{"token_type":"Bearer"}`, `{"access_token":"a","expires_in":"soon"}`, `{"access_token":"a","expires_in":-1}`, `[`} {
		if _, err := parseTokenResponse(200, []byte(bad), at); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	_, err = parseTokenResponse(400, []byte(`{"error":"invalid_grant","error_description":"used","error_uri":"https://x/e"}`), at)
	var e *Error
	if !errors.As(err, &e) || *e != (Error{Code: "invalid_grant", Description: "used", URI: "https://x/e", Status: 400}) {
		t.Fatalf("%#v", err)
	}
	if _, err = parseTokenResponse(200, []byte(`{"error":"bad_verification_code"}`), at); !errors.As(err, &e) || e.Code != "bad_verification_code" {
		t.Fatalf("200 with error: %v", err)
	}
	if _, err = parseTokenResponse(500, []byte(`{}`), at); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("500: %v", err)
	}
}

// TestHints: every error users meet says what to do about it.
func TestHints(t *testing.T) {
	want := map[string]string{
		"invalid_client":        "secret",
		"unauthorized_client":   "grant type",
		"invalid_redirect_uri":  "http://127.0.0.1/callback",
		"redirect_uri_mismatch": "RFC 8252",
		"invalid_scope":         "scopes the client may have",
		"access_denied":         "denied",
		"invalid_grant":         "start the login again",
		"slow_down":             "5 s",
		"authorization_pending": "keep polling",
		"expired_token":         "device login again",
		"invalid_request":       "parameter",
	}
	for code, frag := range want {
		if h := (&Error{Code: code}).Hint(); !strings.Contains(h, frag) {
			t.Errorf("%s: hint %q lacks %q", code, h, frag)
		} else if strings.Contains(h, "--") {
			t.Errorf("%s: hint %q names a flag: that is cmd's to do", code, h)
		}
	}
	if h := (&Error{Code: "temporarily_unavailable"}).Hint(); h != "" {
		t.Errorf("unknown code hint %q", h)
	}
	e := &Error{Code: "invalid_grant", Description: "code used", Status: 400}
	if e.Error() != "oidc: invalid_grant: code used (HTTP 400)" {
		t.Errorf("Error() = %q", e.Error())
	}
	if RefreshHint("openid offline_access", tokenAnswer("", "")) != NoRefreshHint ||
		RefreshHint("openid", tokenAnswer("", "")) != "" ||
		RefreshHint("offline_access", tokenAnswer("r", "")) != "" {
		t.Error("RefreshHint")
	}
	if !strings.Contains(NoRefreshHint, "prompt=consent") || !strings.Contains(NoRefreshHint, "access_type=offline") {
		t.Error(NoRefreshHint)
	}
}

// TestRefreshHintOfflineNotGranted: a token answer whose scope shows offline_access was not
// granted (Ory Hydra when the consent leaves it out) gets a hint that says so, not the advice to
// ask for offline_access, which was asked for.
func TestRefreshHintOfflineNotGranted(t *testing.T) {
	h := RefreshHint("openid offline_access", tokenAnswer("", "openid"))
	if !strings.HasPrefix(h, NotGrantedRefreshHint) || !strings.Contains(h, `"openid"`) || strings.Contains(h, "ask for offline_access") {
		t.Errorf("hint %q", h)
	}
	// Granted but no refresh token all the same, or no scope in the answer: the general hint.
	for _, granted := range []string{"openid offline_access", ""} {
		if h := RefreshHint("openid offline_access", tokenAnswer("", granted)); h != NoRefreshHint {
			t.Errorf("granted %q: hint %q", granted, h)
		}
	}
	if h := RefreshHint("openid offline_access", tokenAnswer("r", "openid")); h != "" {
		t.Errorf("with a refresh token: hint %q", h)
	}
}

// TestTokenBodyCap: a token answer over 1 MiB is refused, not truncated; an HTML error page is
// named with its status.
func TestTokenBodyCap(t *testing.T) {
	huge := `{"access_token":"` + strings.Repeat("a", MaxTokenBytes) + `"}`
	for _, tc := range []struct{ ct, body, want string }{
		{"application/json", huge, "larger than 1048576"},
		{"text/html", "<html>502 Bad Gateway</html>", "not JSON (text/html"},
	} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.ct)
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(tc.body))
		}))
		c := &Client{HTTP: hc(), Provider: &Provider{TokenEndpoint: ts.URL}, ID: "tokenscope-cc", Secret: "s"}
		_, err := c.ClientCredentials(ctxT(t), "", nil)
		ts.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "HTTP 502") {
			t.Errorf("%s: err = %v", tc.ct, err)
		}
	}
}

// tokenAnswer is a token answer with an access token, the refresh token and the granted scope given.
func tokenAnswer(refresh, scope string) profile.Answer {
	a := profile.Answer{Access: session.ParseToken("a", time.Time{}, 0), Scope: scope}
	if refresh != "" {
		a.Refresh = session.ParseToken(refresh, time.Time{}, 0)
	}
	return a
}
