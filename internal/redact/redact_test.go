package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"
)

// password has a character each encoding changes: ä, ', < > &, a space and ".
const password = `pä'ss<w>&rd "x"`

func jsonEscaped(s string, htmlSafe bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(htmlSafe)
	_ = enc.Encode(s)
	out := strings.TrimSpace(b.String())
	return out[1 : len(out)-1]
}

func allUnicodeEscaped(s string) string {
	var b strings.Builder
	for _, r := range s {
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&b, "\\u%04X", u)
		}
	}
	return b.String()
}

// forms are the ways text may carry pw.
func textForms(pw string) [][2]string {
	return [][2]string{
		{"verbatim", pw},
		{"JSON", jsonEscaped(pw, true)},
		{"JSON, every character \\u", allUnicodeEscaped(pw)},
		{"HTML", html.EscapeString(pw)},
		{"URL query", url.QueryEscape(pw)},
		{"URL path", url.PathEscape(pw)},
		{"JSON of HTML", jsonEscaped(html.EscapeString(pw), true)},
		{"base64 std", base64.StdEncoding.EncodeToString([]byte(pw))},
		{"base64 url raw", base64.RawURLEncoding.EncodeToString([]byte(pw))},
	}
}

// TestMaskEveryForm: a secret in any encoding the engine knows is masked, the text around kept.
func TestMaskEveryForm(t *testing.T) {
	s := Of(password)
	for _, f := range textForms(password) {
		in := "wrong password: " + f[1] + " for alice"
		if got, want := s.Mask(in), "wrong password: [redacted] for alice"; got != want {
			t.Errorf("%s: Mask(%q)\n = %q\nwant %q", f[0], in, got, want)
		}
	}
	for _, keep := range []string{`pä'ss<w>&rd "y"`, "p%C3%A4%27ss", `\u0070\u00e4`, "&amp;&lt;&#39;%41+"} {
		if got := s.Mask(keep); got != keep {
			t.Errorf("Mask(%q) = %q, want it kept", keep, got)
		}
	}
}

// TestMaskTokenWhole: a base64 token ending in == is masked whole, not as TOKEN=[masked]; the
// mask names the token's fingerprint, and the fingerprint of the mask is the token's.
func TestMaskTokenWhole(t *testing.T) {
	tok := base64.StdEncoding.EncodeToString([]byte("opaque token bytes 0123456789ab")) // ends in ==
	if !strings.HasSuffix(tok, "==") {
		t.Fatalf("%q does not end in ==", tok)
	}
	s := New()
	s.Add(Access, tok)
	got, found := s.EvidenceHeader(http.Header{"X-Token": {tok}}, nil)
	want := "[redacted:" + Fingerprint(tok) + "]"
	if v := got.Get("X-Token"); v != want {
		t.Errorf("X-Token: %q, want %q", v, want)
	}
	if len(found) != 1 || found[0] != (Found{Access, Fingerprint(tok)}) {
		t.Errorf("found %v", found)
	}
	if Fingerprint(want) != Fingerprint(tok) {
		t.Errorf("the mask's fingerprint %s is not the token's %s", Fingerprint(want), Fingerprint(tok))
	}
	if IsMasked(tok) || !IsMasked(want) || !IsMasked(Masked) {
		t.Error("IsMasked is wrong")
	}
}

// TestMaskEveryCookie: every cookie of a Cookie header that holds a secret is masked, not only
// the first; a cookie that is no secret is kept.
func TestMaskEveryCookie(t *testing.T) {
	acc, ref, csrf := "access-0123456789abcdef", "refresh-0123456789abcdef", "csrf-0123456789"
	s := New()
	s.Add(Access, acc)
	s.Add(Refresh, ref)
	s.Add(Credential, csrf)
	h, _ := s.EvidenceHeader(http.Header{"Cookie": {"a=" + acc + "; refresh_token=" + ref + "; csrf_token=" + csrf + "; theme=dark"}}, nil)
	got := h.Get("Cookie")
	want := "a=[redacted:" + Fingerprint(acc) + "]; refresh_token=[redacted:" + Fingerprint(ref) + "]; csrf_token=[redacted]; theme=dark"
	if got != want {
		t.Errorf("Cookie: %q\nwant %q", got, want)
	}
}

// TestShortSecretWholeValue: a secret under MinWhole bytes is masked where it stands as a
// whole value in a credential slot (a header value, a credential-named JSON, form or query
// value), never inside other words or as another field's value; a Basic credential holding it
// is masked.
func TestShortSecretWholeValue(t *testing.T) {
	s := Of("demo")
	for in, want := range map[string]string{
		"mail demo@example.test or see /demo/x and demonstrate": "mail demo@example.test or see /demo/x and demonstrate",
		`{"username":"alice","password":"demo"}`:                `{"username":"alice","password":"[redacted]"}`,
		"grant_type=password&password=demo&scope=x":             "grant_type=password&password=[redacted]&scope=x",
		"/login?password=demo":                                  "/login?password=[redacted]",
		"demo":                                                  "[redacted]",
		`{"user": "demo", "note": "demo"}`:                      `{"user": "demo", "note": "demo"}`,
		`{"body": "{\"pass\": \"demo\"}"}`:                      `{"body": "{\"pass\": \"[redacted]\"}"}`,
	} {
		if got := s.Mask(in); got != want {
			t.Errorf("Mask(%q)\n = %q\nwant %q", in, got, want)
		}
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:demo"))
	h, _ := s.EvidenceHeader(http.Header{"Authorization": {basic}, "From": {"demo@example.test"}}, nil)
	if got := h.Get("Authorization"); got != "Basic [redacted]" {
		t.Errorf("Authorization: %q", got)
	}
	if got := h.Get("From"); got != "demo@example.test" {
		t.Errorf("From: %q, want the address kept", got)
	}
}

// TestMaskManyTokens: tokens sharing a long prefix (a JWT header) are each found, and each
// masked with its own fingerprint; a token replaced long ago still is.
func TestMaskManyTokens(t *testing.T) {
	s := New()
	head := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	var toks []string
	for i := range 300 {
		tok := head + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"jti":"%04d"}`, i))) + ".sig"
		toks = append(toks, tok)
		s.Add(Access, tok)
	}
	text := "first " + toks[0] + " last " + url.QueryEscape(toks[299]) + " unrelated " + head + "xyz.sig"
	want := "first [redacted:" + Fingerprint(toks[0]) + "] last [redacted:" + Fingerprint(toks[299]) + "] unrelated " + head + "xyz.sig"
	if got := s.Mask(text); got != want {
		t.Errorf("Mask\n = %q\nwant %q", got, want)
	}
}

// TestMaskPrefix: only stretches starting before the limit are searched, and one the cut would
// split is masked whole.
func TestMaskPrefix(t *testing.T) {
	s := Of("secret-value-1234")
	out, end := s.MaskPrefix("abc secret-value-1234 tail secret-value-1234", 6)
	if out != "abc [redacted]" || end != len("abc secret-value-1234") {
		t.Errorf("MaskPrefix = %q, %d", out, end)
	}
}

// TestSecretsConcurrent: adding and masking at once is safe (run with -race).
func TestSecretsConcurrent(t *testing.T) {
	s := New()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 200 {
				s.Add(Refresh, fmt.Sprintf("refresh-token-%d-%d", g, i))
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				if got := s.Mask("x refresh-token-0-0 y"); got != "x refresh-token-0-0 y" && !strings.Contains(got, "[redacted:fp:") {
					t.Errorf("Mask: %q", got)
				}
			}
		}()
	}
	wg.Wait()
	if s.Len() != 800 {
		t.Errorf("%d secrets, want 800", s.Len())
	}
	var nilSet *Secrets
	nilSet.Add(Access, "x")
	if nilSet.Mask("x") != "x" {
		t.Error("a nil set changed text")
	}
}

// TestOldestTokensGo: past maxTokens the oldest tokens are forgotten, credentials never.
func TestOldestTokensGo(t *testing.T) {
	s := Of("the-password-123")
	for i := range maxTokens + 5 {
		s.Add(Access, fmt.Sprintf("token-number-%06d", i))
	}
	if s.Has("token-number-000000") || !s.Has("token-number-000005") || !s.Has("the-password-123") {
		t.Error("wrong secrets forgotten")
	}
}

// TestURL: the one URL redactor masks userinfo passwords and credential query parameters and
// keeps everything else as the user wrote it.
func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.example.com/v1?page=2":                      "https://api.example.com/v1?page=2",
		"https://bob:hunter22@api.example.com/":                  "https://bob:xxxxx@api.example.com/",
		"https://api.example.com/cb?code=abc&state=s1":           "https://api.example.com/cb?code=[redacted]&state=s1",
		"https://api.example.com/?access_token=eyJx&api_key=k&x": "https://api.example.com/?access_token=[redacted]&api_key=[redacted]&x",
		"not a url %%": "not a url %%",
		"staging":      "staging",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzMask: any text is masked without a panic, and a long secret it holds verbatim is gone.
func FuzzMask(f *testing.F) {
	f.Add("x secret-value-1234 y", "secret-value-1234")
	f.Add(`{"password":"demo"}`, "demo")
	f.Add(`\u0026#x27;%2`, `'&%`)
	f.Fuzz(func(t *testing.T, text, sec string) {
		s := New()
		s.Add(Refresh, sec)
		out := s.Mask(text)
		if len(sec) >= MinWhole && !strings.Contains(sec, "[redacted") && strings.Contains(out, sec) {
			t.Errorf("Mask(%q) = %q still holds %q", text, out, sec)
		}
	})
}
