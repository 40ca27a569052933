package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

// trustPassword has a character each encoding changes: ä (JSON \u00e4, HTML &auml;, URL
// %C3%A4), ' (HTML &#39; &#x27; &apos;), < > & (JSON \u003c… by Go's default, HTML &lt; &gt;
// &amp;), a space (URL + or %20) and " (JSON \", HTML &quot; &#34;).
const trustPassword = `pä'ss<w>&rd "x"`

// jsonEscaped is s as the inside of a JSON string: with Go's default HTML escaping when
// htmlSafe, without it otherwise.
func jsonEscaped(s string, htmlSafe bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(htmlSafe)
	_ = enc.Encode(s)
	out := strings.TrimSpace(b.String())
	return out[1 : len(out)-1]
}

// allUnicodeEscaped writes every character as \uXXXX, even ASCII letters (surrogate pairs for
// the characters beyond the BMP), in upper- or lower-case hex.
func allUnicodeEscaped(s string, upper bool) string {
	var b strings.Builder
	for _, r := range s {
		for _, u := range utf16.Encode([]rune{r}) {
			f := "\\u%04x"
			if upper {
				f = "\\u%04X"
			}
			fmt.Fprintf(&b, f, u)
		}
	}
	return b.String()
}

// allEntities writes every character as a numeric character reference.
func allEntities(s string, hex bool) string {
	var b strings.Builder
	for _, r := range s {
		if hex {
			fmt.Fprintf(&b, "&#x%X;", r)
		} else {
			fmt.Fprintf(&b, "&#%d;", r)
		}
	}
	return b.String()
}

// allPercent writes every byte as %HH.
func allPercent(s string, lower bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		f := "%%%02X"
		if lower {
			f = "%%%02x"
		}
		fmt.Fprintf(&b, f, s[i])
	}
	return b.String()
}

// passwordForms are the ways a server may echo pw: each a name and the text.
func passwordForms(pw string) [][2]string {
	named := strings.NewReplacer("ä", "&auml;", "'", "&apos;", "<", "&lt;", ">", "&gt;", "&", "&amp;", `"`, "&quot;")
	hexRefs := strings.NewReplacer("'", "&#x27;", "<", "&#X3C;", ">", "&#x3e;", "&", "&#x26;", `"`, "&#x22;")
	return [][2]string{
		{"verbatim", pw},
		{"JSON, Go default", jsonEscaped(pw, true)},
		{"JSON, no HTML escaping", jsonEscaped(pw, false)},
		{"JSON, every character \\u, lower hex", allUnicodeEscaped(pw, false)},
		{"JSON, every character \\u, upper hex", allUnicodeEscaped(pw, true)},
		{"JSON, only the letter p as \\u0070", strings.Replace(jsonEscaped(pw, false), "p", `\u0070`, 1)},
		{"HTML, html.EscapeString", html.EscapeString(pw)},
		{"HTML, named entities", named.Replace(pw)},
		{"HTML, hex references", hexRefs.Replace(pw)},
		{"HTML, every character decimal", allEntities(pw, false)},
		{"HTML, every character hex", allEntities(pw, true)},
		{"HTML, &#39 without semicolon", strings.ReplaceAll(html.EscapeString(pw), "&#39;", "&#39")},
		{"URL, query escape", url.QueryEscape(pw)},
		{"URL, query escape lower hex", strings.ToLower(url.QueryEscape(pw))},
		{"URL, path escape", url.PathEscape(pw)},
		{"URL, every byte, upper hex", allPercent(pw, false)},
		{"URL, every byte, lower hex", allPercent(pw, true)},
		{"JSON of HTML", jsonEscaped(html.EscapeString(pw), true)},
		{"JSON of a URL escape", jsonEscaped(url.QueryEscape(pw), true)},
		{"HTML of JSON", html.EscapeString(jsonEscaped(pw, false))},
	}
}

// TestTrustRedactForms: a password echoed in any of the forms a JSON answer, an HTML page or
// a form body writes it in is redacted, and the text around it is kept.
func TestTrustRedactForms(t *testing.T) {
	for _, pw := range []string{trustPassword, "k€y😀 pass"} {
		for _, f := range passwordForms(pw) {
			t.Run(f[0]+"/"+pw, func(t *testing.T) {
				in := "wrong password: " + f[1] + " for alice"
				got := redact.Of(pw).Mask(in)
				if want := "wrong password: [redacted] for alice"; got != want {
					t.Errorf("redact(%q)\n = %q\nwant %q", in, got, want)
				}
			})
		}
	}
	// Twice in one text, in two forms; and text that only resembles the password is kept.
	in := "a " + url.QueryEscape(trustPassword) + " b " + html.EscapeString(trustPassword) + " c"
	if got := redact.Of(trustPassword).Mask(in); got != "a [redacted] b [redacted] c" {
		t.Errorf("two echoes: %q", got)
	}
	for _, keep := range []string{`pä'ss<w>&rd "y"`, "p%C3%A4%27ss", `\u0070\u00e4`, "&amp;&lt;&#39;%41+"} {
		if got := redact.Of(trustPassword).Mask(keep); got != keep {
			t.Errorf("redact(%q) = %q, want it kept", keep, got)
		}
	}
}

// checkNoPassword fails when text holds the password in any form.
func checkNoPassword(t *testing.T, where, text, pw string) {
	t.Helper()
	for _, f := range passwordForms(pw) {
		if strings.Contains(text, f[1]) {
			t.Errorf("%s holds the password (%s): %q", where, f[0], text)
		}
	}
}

// TestTrustRedactEchoedPassword: a login endpoint answering 400 with the submitted password
// echoed (in a JSON message, in a JSON message holding HTML, and in an HTML page), in each
// form, and a refresh endpoint answering 503 the same way to twenty requests at once: no
// form of the password reaches an event, the login error, a refresh error or a result.
func TestTrustRedactEchoedPassword(t *testing.T) {
	for _, f := range passwordForms(trustPassword) {
		for _, wrap := range []string{"json-raw", "json", "html"} {
			t.Run(f[0]+"/"+wrap, func(t *testing.T) {
				body, ctype := `{"detail":"wrong password `+f[1]+`"}`, "application/json"
				switch wrap {
				case "json":
					msg, _ := json.Marshal("wrong password " + f[1])
					body = `{"detail":` + string(msg) + `}`
				case "html":
					body, ctype = "<p>"+f[1]+"</p> is not the password", "text/html"
				}
				if wrap == "json-raw" && !json.Valid([]byte(body)) {
					t.Skip("this form cannot stand in a JSON string as it is")
				}
				var loginOK atomic.Bool
				mux := http.NewServeMux()
				echo := func(w http.ResponseWriter, status int) {
					w.Header().Set("Content-Type", ctype)
					w.WriteHeader(status)
					_, _ = w.Write([]byte(body))
				}
				mux.HandleFunc("POST /api/token/", func(w http.ResponseWriter, r *http.Request) {
					if loginOK.Load() {
						edgeWriteJSON(w, http.StatusOK, `{"access":"opaque-access-1","refresh":"opaque-refresh-1"}`)
						return
					}
					echo(w, http.StatusBadRequest)
				})
				mux.HandleFunc("POST /api/token/refresh/", func(w http.ResponseWriter, r *http.Request) {
					echo(w, http.StatusServiceUnavailable)
				})
				mux.HandleFunc("GET /api/protected/", edgeTokenNotValid)
				ts := httptest.NewServer(mux)
				defer ts.Close()
				cfg := edgeConfig(ts.URL, edgeProfile(t, "simplejwt"))
				cfg.Password = trustPassword
				cfg.Timeout, cfg.RefreshTimeout = 5e9, 5e9
				e := edgeNew(t, cfg)
				defer e.Close()

				_, err := e.Login(context.Background())
				if err == nil {
					t.Fatal("login answered 400 succeeded")
				}
				checkNoPassword(t, "login error", err.Error(), trustPassword)
				loginOK.Store(true)
				edgeLogin(t, e)
				var re *RefreshError
				if err := e.RefreshNow(context.Background()); !errors.As(err, &re) {
					t.Fatalf("RefreshNow: %v, want a RefreshError", err)
				}
				checkNoPassword(t, "refresh error", re.Error(), trustPassword)
				var wg sync.WaitGroup
				for range 20 {
					wg.Go(func() {
						r := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"})
						checkNoPassword(t, "result reason", r.Reason, trustPassword)
					})
				}
				wg.Wait()
				redacted := 0
				for _, ev := range e.Log().Events() {
					checkNoPassword(t, ev.Kind.String()+" event", ev.Reason, trustPassword)
					if strings.Contains(ev.Reason, "[redacted]") {
						redacted++
					}
				}
				if wrap != "html" && redacted == 0 {
					t.Errorf("no event says what was redacted")
				}
				if t.Failed() {
					for _, ev := range edgeEvents(e, session.KindLoginFailed) {
						t.Logf("login-failed: %s", ev.Reason)
					}
				}
			})
		}
	}
}

// TestTrustRedactAtTheCut: an echo the clip would cut in two is redacted whole (no start of
// the password is left before the cut), and a server's megabytes of text made of escape
// characters cost the engine milliseconds, not seconds: only what the clip keeps is read.
func TestTrustRedactAtTheCut(t *testing.T) {
	e := &Engine{cfg: Config{Password: trustPassword, Secrets: redact.Of(trustPassword)}}
	for _, f := range passwordForms(trustPassword) {
		for _, lead := range []int{session.MaxTextBytes - 3, session.MaxTextBytes - len(f[1])/2, session.MaxTextBytes} {
			in := strings.Repeat("a", lead) + f[1] + strings.Repeat("b", 3<<20)
			got := e.redactClip(in)
			if strings.Contains(got, "pä") || strings.Contains(got, f[1][:4]) {
				t.Errorf("%s cut after %d bytes: the start of the password is left: …%q", f[0], lead, got[max(0, len(got)-80):])
			}
			if !strings.Contains(got, " bytes more") || len(got) > maxReason {
				t.Errorf("%s: %d bytes, want clipped: …%q", f[0], len(got), got[max(0, len(got)-80):])
			}
		}
	}
	for _, junk := range []string{"&", `\`, "%25", `\u0026`, "&#x26;", "p"} {
		in := strings.Repeat(junk, 3<<20/len(junk))
		start := time.Now()
		_ = e.redactClip(in, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefabcdef")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("redacting 3 MiB of %q took %v", junk, d)
		}
	}
}
