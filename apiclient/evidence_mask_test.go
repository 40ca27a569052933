package apiclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/har"
	"tokenscope/internal/redact"
)

// opaqueToken is a random base64 token ending in "==", as some servers issue them.
func opaqueToken(t *testing.T) string {
	b := make([]byte, 31) // 31 bytes: two pad characters
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// echoServer speaks simplejwt's wire format with opaque "=="-ending tokens, rotating on every
// refresh; /api/echo answers with what a careless server echoes: the token it got in X-Token,
// every token it ever issued in X-Seen, and an e-mail address with the user's name in it.
type echoServer struct {
	mu     sync.Mutex
	t      *testing.T
	issued []string
}

func (s *echoServer) pair() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, r := opaqueToken(s.t), opaqueToken(s.t)
	s.issued = append(s.issued, a, r)
	return map[string]string{"access": a, "refresh": r}
}

func (s *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	switch r.URL.Path {
	case "/api/token/", "/api/token/refresh/":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.pair())
	default:
		s.mu.Lock()
		seen := strings.Join(s.issued, ",")
		s.mu.Unlock()
		w.Header().Set("X-Token", strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		w.Header().Set("X-Seen", seen)
		_, _ = io.WriteString(w, `{"contact":"demo@example.test","user":"demo"}`)
	}
}

// TestEvidenceMasksEverySecret: --har and --log-bodies mask by the session's secrets, not by
// header names: a base64 token ending in == is masked whole; an access token a refresh
// replaced is still masked, under a header no list names; every cookie of a Cookie header is
// masked; the password "demo" is masked where it is the password, and not inside an e-mail
// address or as the user's name.
func TestEvidenceMasksEverySecret(t *testing.T) {
	srv := &echoServer{t: t}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	rec := har.NewRecorder(http.DefaultTransport)
	p, _ := profile.Builtin("simplejwt")
	e, err := New(Config{BaseURL: ts.URL, Profile: p, Username: "demo", Password: "demo", Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rec.SetSecrets(e.Secrets())
	ctx := context.Background()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	first := e.Snapshot()
	if err := e.RefreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	now := e.Snapshot()
	csrf := opaqueToken(t)
	cookie := "a=" + first.Access.Raw + "; refresh_token=" + now.Refresh.Raw + "; csrf_token=" + csrf
	res := e.Do(ctx, profile.Request{Method: "GET", Path: "/api/echo", Header: http.Header{"Cookie": {cookie}, "X-Old": {first.Access.Raw}}})
	if res.Status != 200 {
		t.Fatalf("echo: %+v", res)
	}
	var b bytes.Buffer
	if err := rec.WriteHAR(&b, "test"); err != nil {
		t.Fatal(err)
	}
	done := rec.TakeDone()
	var lines bytes.Buffer
	for _, x := range done {
		// As --log-bodies writes them: headers, and bodies as text.
		_ = json.NewEncoder(&lines).Encode(map[string]any{"url": x.URL, "req": x.ReqHeader, "reqBody": string(x.ReqBody),
			"resp": x.RespHeader, "respBody": string(x.RespBody)})
	}
	srv.mu.Lock()
	issued := append([]string(nil), srv.issued...)
	srv.mu.Unlock()
	for name, text := range map[string]string{"the HAR": b.String(), "--log-bodies": lines.String()} {
		for _, tok := range append(issued, csrf) {
			if strings.Contains(text, strings.TrimRight(tok, "=")) {
				t.Errorf("%s shows a token (%.12s…)", name, tok)
			}
		}
		if strings.Contains(text, `"password":"demo"`) || strings.Contains(text, `\"password\":\"demo\"`) {
			t.Errorf("%s shows the password", name)
		}
		for _, kept := range []string{"demo@example.test", `\"user\":\"demo\"`} {
			if !strings.Contains(text, kept) {
				t.Errorf("%s lost %s", name, kept)
			}
		}
	}
	echo := done[len(done)-1]
	if got, want := echo.RespHeader.Get("X-Token"), "[redacted:"+redact.Fingerprint(now.Access.Raw)+"]"; got != want {
		t.Errorf("X-Token: %q, want the whole token masked: %q", got, want)
	}
	if got, want := echo.ReqHeader.Get("X-Old"), "[redacted:"+redact.Fingerprint(first.Access.Raw)+"]"; got != want {
		t.Errorf("the replaced access token under X-Old: %q, want %q", got, want)
	}
	wantCookie := "a=[redacted:" + redact.Fingerprint(first.Access.Raw) + "]; refresh_token=[redacted:" +
		redact.Fingerprint(now.Refresh.Raw) + "]; csrf_token=[redacted]"
	if got := echo.ReqHeader.Get("Cookie"); got != wantCookie {
		t.Errorf("Cookie: %q\nwant    %q", got, wantCookie)
	}
	if !strings.Contains(b.String(), `"_tokenscope"`) {
		t.Error("the HAR has no _tokenscope fingerprints")
	}
}
