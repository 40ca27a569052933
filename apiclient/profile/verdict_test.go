package profile

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

var recv = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

// wire is one answer as a service sends it.
type wire struct {
	status int
	ct     string
	body   string
	cookie string // a Set-Cookie line
}

func (w wire) reply() Reply {
	h := http.Header{}
	if w.ct != "" {
		h.Set("Content-Type", w.ct)
	}
	if w.cookie != "" {
		h.Add("Set-Cookie", w.cookie)
	}
	return Reply{Status: w.status, Header: h, Body: []byte(w.body), ServerRecv: recv}
}

// serviceAnswers are each built-in profile's refresh answers in the shape its service sends
// them (the demo server's conventions; the hosted services' REST documentation): a good one,
// whose tokens are access "A" and (when it rotates) refresh "R", and a rejection, with the
// words the verdict must quote.
var serviceAnswers = map[string]struct {
	ok         wire
	rotates    bool
	expiresIn  time.Duration // 0: the token's lifetime is not in the answer
	rejected   wire
	words, why string
}{
	"simplejwt": {
		ok:       wire{200, "application/json", `{"access":"A","refresh":"R"}`, ""},
		rotates:  true,
		rejected: wire{401, "application/json", `{"detail":"Token is blacklisted","code":"token_not_valid","reason":"refresh token reused"}`, ""},
		words:    "Token is blacklisted", why: "401 code token_not_valid",
	},
	"bearer-json": {
		ok:       wire{200, "application/json", `{"accessToken":"A","refreshToken":"R"}`, ""},
		rotates:  true,
		rejected: wire{403, "application/json", `{"message":"Refresh token is invalid or expired","reason":"expired"}`, ""},
		words:    "Refresh token is invalid or expired", why: "403",
	},
	"element-admin": {
		ok:       wire{200, "application/json; charset=utf-8", `{"code":20000,"data":{"token":"A","refreshToken":"R"}}`, ""},
		rotates:  true,
		rejected: wire{401, "application/json", `{"code":50015,"message":"Refresh token expired, please log in again"}`, ""},
		words:    "Refresh token expired, please log in again", why: "401 code 50015",
	},
	"oauth2": {
		ok:        wire{200, "application/json", `{"access_token":"A","token_type":"Bearer","expires_in":3600,"refresh_token":"R","scope":"api"}`, ""},
		rotates:   true,
		expiresIn: time.Hour,
		rejected:  wire{400, "application/json", `{"error":"invalid_grant","error_description":"refresh token revoked"}`, ""},
		words:     "refresh token revoked", why: "400 error invalid_grant",
	},
	"cookie": {
		ok:       wire{200, "application/json", `{"accessToken":"A"}`, "refresh_token=R; Path=/auth; HttpOnly; SameSite=Strict"},
		rotates:  true,
		rejected: wire{401, "application/json", `{"detail":"Token is invalid or expired","code":"token_not_valid"}`, ""},
		words:    "Token is invalid or expired", why: "401 code token_not_valid",
	},
	// securetoken.googleapis.com/v1/token: snake case, expires_in a string; errors nest.
	"firebase": {
		ok: wire{200, "application/json; charset=UTF-8",
			`{"access_token":"G","expires_in":"3600","token_type":"Bearer","refresh_token":"R","id_token":"A","user_id":"u1","project_id":"42"}`, ""},
		rotates:   true,
		expiresIn: time.Hour,
		rejected: wire{400, "application/json; charset=UTF-8",
			`{"error":{"code":400,"message":"TOKEN_EXPIRED","status":"INVALID_ARGUMENT"}}`, ""},
		words: "TOKEN_EXPIRED", why: "400 message TOKEN_EXPIRED",
	},
	// GoTrue: /auth/v1/token?grant_type=refresh_token; its errors carry msg.
	"supabase": {
		ok: wire{200, "application/json",
			`{"access_token":"A","token_type":"bearer","expires_in":3600,"expires_at":1765011600,"refresh_token":"R","user":{"id":"u1"}}`, ""},
		rotates:   true,
		expiresIn: time.Hour,
		rejected: wire{400, "application/json",
			`{"code":400,"error_code":"refresh_token_already_used","msg":"Invalid Refresh Token: Already Used"}`, ""},
		words: "Invalid Refresh Token: Already Used", why: "400 error_code refresh_token_already_used",
	},
	// InitiateAuth REFRESH_TOKEN_AUTH: no new refresh token (no rotation).
	"cognito": {
		ok: wire{200, "application/x-amz-json-1.1",
			`{"AuthenticationResult":{"AccessToken":"A","ExpiresIn":3600,"IdToken":"I","TokenType":"Bearer"},"ChallengeParameters":{}}`, ""},
		expiresIn: time.Hour,
		rejected: wire{400, "application/x-amz-json-1.1",
			`{"__type":"NotAuthorizedException","message":"Refresh Token has been revoked"}`, ""},
		words: "Refresh Token has been revoked", why: "400 __type NotAuthorizedException",
	},
}

// TestRefreshVerdictEveryProfile: every built-in and hosted profile judges its service's good
// answer ok, its rejection rejected with the service's own words, and the failures every
// service meets (a gateway's HTML page, a body that is not JSON, a JSON answer without the
// token) transient, never quoting a token.
func TestRefreshVerdictEveryProfile(t *testing.T) {
	if got, want := slices.Sorted(maps.Keys(serviceAnswers)), slices.Sorted(slices.Values(AllNames())); !slices.Equal(got, want) {
		t.Fatalf("answers for %v, profiles %v: every profile needs its service's answers here", got, want)
	}
	for _, name := range AllNames() {
		p, _ := Builtin(name)
		p.WithDefaults()
		s := serviceAnswers[name]
		t.Run(name, func(t *testing.T) {
			v := p.RefreshVerdict(s.ok.reply())
			if v.Outcome != VerdictOK || v.Cause != CauseTokens || v.Err != nil {
				t.Fatalf("good answer: %v %v %q %v", v.Outcome, v.Cause, v.Why, v.Err)
			}
			a := v.Answer
			if a.Access.Raw != "A" || a.Rotated != s.rotates || (s.rotates && a.Refresh.Raw != "R") || (!s.rotates && !a.Refresh.Empty()) {
				t.Errorf("tokens: access %q refresh %q rotated %v; want A, R when it rotates (%v)", a.Access.Raw, a.Refresh.Raw, a.Rotated, s.rotates)
			}
			if s.expiresIn > 0 && !a.Access.ExpiresAt.Equal(recv.Add(s.expiresIn)) {
				t.Errorf("expiry %v, want %v after the answer arrived", a.Access.ExpiresAt, s.expiresIn)
			}

			v = p.RefreshVerdict(s.rejected.reply())
			if v.Outcome != VerdictRejected || v.Cause != CauseMatched || v.Why != s.why || v.Words != s.words {
				t.Errorf("rejection: %v %v why %q words %q; want rejected, why %q, words %q", v.Outcome, v.Cause, v.Why, v.Words, s.why, s.words)
			}

			for _, c := range []struct {
				name  string
				w     wire
				cause Cause
				why   []string // all in Why
			}{
				{"gateway page 502", wire{502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", ""}, CauseStatus, []string{"Bad Gateway"}},
				{"busy 503", wire{503, "application/json", `{"message":"try later"}`, ""}, CauseStatus, []string{"Service Unavailable"}},
				{"rate limited 429", wire{429, "", "", ""}, CauseStatus, []string{"Too Many Requests"}},
				{"timeout 408", wire{408, "", "", ""}, CauseStatus, []string{"Request Timeout"}},
				{"proxy's HTML page with 200", wire{200, "text/html; charset=utf-8", "<html>sign in to the proxy</html>", ""}, CauseUnreadable, []string{"text/html", "not JSON"}},
				{"not JSON though it says so", wire{200, "application/json", "A R", ""}, CauseUnreadable, []string{"not JSON"}},
				{"empty 200", wire{200, "application/json", "", ""}, CauseUnreadable, []string{"empty body"}},
				{"token field missing", wire{200, "application/json", `{"acces_token":"SECRET-A","data":{}}`, ""}, CauseUnreadable, []string{"has no", p.TokenPaths(p.Refresh).Access}},
				{"token not a string", wire{200, "application/json", jsonAt(p.TokenPaths(p.Refresh).Access, 42), ""}, CauseUnreadable, []string{"number, not a string"}},
			} {
				v := p.RefreshVerdict(c.w.reply())
				if v.Outcome != VerdictTransient || v.Cause != c.cause {
					t.Errorf("%s: %v %v %q; want transient, cause %v", c.name, v.Outcome, v.Cause, v.Why, c.cause)
				}
				for _, w := range c.why {
					if !strings.Contains(v.Why, w) {
						t.Errorf("%s: why %q lacks %q", c.name, v.Why, w)
					}
				}
				if strings.Contains(v.Why, "SECRET") {
					t.Errorf("%s: why quotes the answer's token: %q", c.name, v.Why)
				}
			}
			if v := p.RefreshVerdict(Reply{Status: 200, Err: errors.New("dial tcp: connection refused")}); v.Outcome != VerdictTransient || v.Cause != CauseTransport || v.Err == nil {
				t.Errorf("no answer: %v %v", v.Outcome, v.Cause)
			}
			if v := p.RefreshVerdict(wire{302, "", "", ""}.reply()); v.Outcome != VerdictRejected || v.Cause != CauseRedirect {
				t.Errorf("redirect: %v %v; a refresh token is not followed elsewhere", v.Outcome, v.Cause)
			}
			// A 4xx no matcher names is still the refresh token's end (any 4xx but 408 and 429).
			if v := p.RefreshVerdict(wire{404, "text/plain", "not found", ""}.reply()); v.Outcome != VerdictRejected || v.Cause != CauseStatus || v.Why != "Not Found" || v.Words != `"not found"` {
				t.Errorf("404: %v %v %q %q", v.Outcome, v.Cause, v.Why, v.Words)
			}
		})
	}
}

// jsonAt is a JSON object with v at a dotted path.
func jsonAt(path string, v any) string {
	doc := map[string]any{}
	SetJSONPath(doc, path, v)
	return string(mustJSONAny(doc))
}

// TestRefreshVerdictMatcherBeforeStatus: a profile's matcher decides before the status rules,
// so a service that answers a dead refresh token with 200 and an error code is rejected, and
// one whose 400 the matcher does not name is still rejected by status.
func TestRefreshVerdictMatcherBeforeStatus(t *testing.T) {
	p, _ := Builtin("element-admin")
	p.RefreshRejected = Matcher{Field: "code", Values: []string{"50015"}}
	v := p.RefreshVerdict(wire{200, "application/json", `{"code":50015,"message":"log in again"}`, ""}.reply())
	if v.Outcome != VerdictRejected || v.Cause != CauseMatched || v.Why != "200 code 50015" || v.Words != "log in again" {
		t.Errorf("200 with 50015: %v %v %q %q", v.Outcome, v.Cause, v.Why, v.Words)
	}
	// A matcher on a field whose value the profile does not list says the field, not its value.
	p.RefreshRejected = Matcher{Status: []int{401}, Field: "token"}
	v = p.RefreshVerdict(wire{401, "application/json", `{"token":"SECRET-VALUE"}`, ""}.reply())
	if v.Outcome != VerdictRejected || v.Why != "401 token present" {
		t.Errorf("present field: %v %q", v.Outcome, v.Why)
	}
}

// TestWords: what an error answer said, in every shape the services use; redaction runs
// before the cut, and no body makes it panic.
func TestWords(t *testing.T) {
	mask := func(s string) string { return strings.ReplaceAll(s, "SECRET", "[masked]") }
	long := `{"x":"` + strings.Repeat("a", 70) + `SECRET"}`
	for _, c := range []struct{ body, want string }{
		{`{"error":"invalid_grant","error_description":"used twice"}`, "used twice"},
		{`{"detail":"Token is blacklisted","code":"token_not_valid"}`, "Token is blacklisted"},
		{`{"code":400,"error_code":"session_not_found","msg":"Session not found"}`, "Session not found"},
		{`{"error":{"code":400,"message":"INVALID_REFRESH_TOKEN"}}`, "INVALID_REFRESH_TOKEN"},
		{`{"__type":"NotAuthorizedException","message":"Invalid Refresh Token"}`, "Invalid Refresh Token"},
		{`{"error":"invalid_grant"}`, "invalid_grant"},
		{`{"message":"echo SECRET"}`, "echo [masked]"},
		{long, `"{\"x\":\"` + strings.Repeat("a", 70) + `[mas…"`}, // masked, then cut: no "SECR" left,
		{`[1,2,3]`, `"[1,2,3]"`},
		{`"just a string"`, `"\"just a string\""`},
		{`null`, `"null"`},
		// An HTML error page reads as the text a browser shows, not as quoted markup.
		{`<html><h1>502 Bad Gateway</h1></html>`, "HTML page: 502 Bad Gateway"},
		{"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
			"HTML page: 502 Bad Gateway nginx"},
		{"<!DOCTYPE html><html><head><title>Oops &amp; SECRET</title><style>p{x:y}</style></head><body><script>alert(1)</script><p>Try\tlater \x1b[31mplease</p></body></html>",
			"HTML page: Oops & [masked]: Try later please"},
		{`<html><body></body></html>`, "an HTML page with no text"},
		{`<not html>`, `"<not html>"`},
		{``, "empty body"},
	} {
		if got := Words([]byte(c.body), mask); got != c.want {
			t.Errorf("%.40s: %q, want %q", c.body, got, c.want)
		}
	}
	if got := Words([]byte(`{"msg":"as is"}`), nil); got != "as is" {
		t.Errorf("nil redact: %q", got)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{VerdictOK: "ok", VerdictTransient: "transient", VerdictRejected: "rejected", 7: "Outcome(7)"} {
		if o.String() != want {
			t.Errorf("%d: %q", int(o), o.String())
		}
	}
}
