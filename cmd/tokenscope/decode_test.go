package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenscope/demoserver"
	"tokenscope/internal/human"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

const decodeTestSecret = "decode-test-secret-0123456789abcdef"

type decodeResult struct {
	out, stderr string
	err         error
	printedErr  string // the error as main prints it, through the sanitized stderr
	code        int    // 0 when err is nil
}

// runDecodeCmd runs `tokenscope decode args...` in-process with stdin as its input, through
// the root command as main does: its outputs behind the sanitizer.
func runDecodeCmd(t *testing.T, stdin string, args ...string) decodeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb, printed bytes.Buffer
	cmd := newRootCmd(&out, &errb)
	cmd.SetArgs(append([]string{"decode"}, args...))
	cmd.SetIn(strings.NewReader(stdin))
	err := cmd.ExecuteContext(ctx)
	r := decodeResult{out: out.String(), stderr: errb.String(), err: err}
	if err != nil {
		r.code = exitCode(err)
		printError(guard(&printed), err)
		r.printedErr = printed.String()
	}
	return r
}

// decodeVerdict reports whether code is one of decode's verdicts on a token (expired, not a JWT,
// invalid), not a usage error.
func decodeVerdict(code int) bool {
	return code == decodeExitExpired || code == decodeExitNotJWT || code == decodeExitInvalid
}

func (r decodeResult) String() string {
	return fmt.Sprintf("exit %d, err=%v\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.out, r.stderr)
}

func wantDecode(t *testing.T, r decodeResult, code int, contains ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("want exit %d, got %s", code, r)
	}
	if code != 0 {
		var ee *exitError
		if !errors.As(r.err, &ee) {
			t.Errorf("exit %d without an exitError (a usage error?): %v", code, r.err)
		}
	}
	for _, s := range contains {
		if !strings.Contains(r.out, s) {
			t.Errorf("output lacks %q:\n%s", s, r)
		}
	}
}

// wantUsageError checks for a refused command line: exit 2, as in every command.
func wantUsageError(t *testing.T, r decodeResult, msg string) {
	t.Helper()
	if r.err == nil || r.code != 2 || !strings.Contains(r.err.Error(), msg) {
		t.Errorf("want a usage error (exit 2) containing %q, got %s", msg, r)
	}
}

// wantFetchError checks for a --jwks fetch that failed: an ordinary error, exit 1.
func wantFetchError(t *testing.T, r decodeResult, msg string) {
	t.Helper()
	var ee *exitError
	if r.err == nil || errors.As(r.err, &ee) || r.code != 1 || !strings.Contains(r.err.Error(), msg) {
		t.Errorf("want an error (exit 1) containing %q, got %s", msg, r)
	}
}

func startDecodeDemo(t *testing.T, o demoserver.Options) *demoserver.Server {
	t.Helper()
	o.Addr = "127.0.0.1:0"
	s, err := demoserver.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// decodeLogin logs in to the simplejwt convention and returns the access token.
func decodeLogin(t *testing.T, s *demoserver.Server) string {
	t.Helper()
	resp, err := http.Post(s.URL()+"/api/token/", "application/json", strings.NewReader(`{"username":"demo","password":"demo"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body["access"] == "" {
		t.Fatalf("login: %d %v %v", resp.StatusCode, body, err)
	}
	return body["access"]
}

// craftToken builds an unsigned token from raw header and payload JSON, with sig as signature.
func craftToken(header, payload, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + sig
}

func TestDecodeValidTokenWithSecret(t *testing.T) {
	s := startDecodeDemo(t, demoserver.Options{Secret: []byte(decodeTestSecret), AccessTTL: time.Minute})
	tok := decodeLogin(t, s)

	r := runDecodeCmd(t, "", "--secret", decodeTestSecret, tok)
	wantDecode(t, r, 0, "verified", "Header:", `"alg": "HS256"`, "Claims:", `"sub": "demo"`, `"token_type": "access"`,
		"iat  ", "issued ", " ago", "exp  ", "expires in ", "Phase:", "fresh", session.Fingerprint(tok), "--secret")
	if strings.Contains(r.out, tok) || strings.Contains(r.out, strings.Split(tok, ".")[2]) {
		t.Error("decode printed the token (or its signature)")
	}

	t.Setenv("TOKENSCOPE_DECODE_TEST_SECRET", decodeTestSecret)
	wantDecode(t, runDecodeCmd(t, "", "--secret-env", "TOKENSCOPE_DECODE_TEST_SECRET", tok), 0, "verified", "--secret-env TOKENSCOPE_DECODE_TEST_SECRET")

	// No key: decoded, not checked, exit 0.
	r = runDecodeCmd(t, "", tok)
	wantDecode(t, r, 0, "not checked: no key given")
	if strings.Contains(r.out, "verified") {
		t.Errorf("claims verification without a key:\n%s", r)
	}
}

func TestDecodeExpiredToken(t *testing.T) {
	clock := demoserver.NewManualClock(time.Now().Add(-time.Hour))
	s := startDecodeDemo(t, demoserver.Options{Secret: []byte(decodeTestSecret), AccessTTL: time.Minute, Clock: clock})
	tok := decodeLogin(t, s)

	r := runDecodeCmd(t, "", "--secret", decodeTestSecret, tok)
	wantDecode(t, r, 1, "expired 59m", " ago", "Phase:       expired", "verified")
	if !strings.Contains(r.err.Error(), "expired") {
		t.Errorf("error message: %v", r.err)
	}
	wantDecode(t, runDecodeCmd(t, "", tok), 1, "expired")
	// Expired and invalid: invalid wins.
	wantDecode(t, runDecodeCmd(t, "", "--secret", "not-the-secret-at-all", tok), 4, "expired", "INVALID")
}

func TestDecodeWrongSecret(t *testing.T) {
	s := startDecodeDemo(t, demoserver.Options{Secret: []byte(decodeTestSecret)})
	tok := decodeLogin(t, s)
	r := runDecodeCmd(t, "", "--secret", "another-secret-of-some-length", tok)
	wantDecode(t, r, 4, "INVALID", "signature does not match")
	if !strings.Contains(r.err.Error(), "signature invalid") {
		t.Errorf("error message: %v", r.err)
	}
}

func TestDecodeAlgNone(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	payload := `{"sub":"admin","exp":` + jsonNum(exp) + `}`
	for name, tok := range map[string]string{
		"none":       craftToken(`{"alg":"none","typ":"JWT"}`, payload, ""),
		"None":       craftToken(`{"alg":"None"}`, payload, "c2ln"),
		"no alg":     craftToken(`{"typ":"JWT"}`, payload, ""),
		"signed-ish": craftToken(`{"alg":"none"}`, payload, "c2lnbmF0dXJl"),
	} {
		t.Run(name, func(t *testing.T) {
			wantDecode(t, runDecodeCmd(t, "", tok), 4, "INVALID")
			wantDecode(t, runDecodeCmd(t, "", "--secret", decodeTestSecret, tok), 4, "INVALID")
		})
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestDecodeOpaqueToken(t *testing.T) {
	s := startDecodeDemo(t, demoserver.Options{OpaqueOAuth: true})
	form := url.Values{"grant_type": {"password"}, "username": {"demo"}, "password": {"demo"}, "client_id": {"tokenscope"}}
	resp, err := http.PostForm(s.URL()+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	tok, _ := body["access_token"].(string)
	if resp.StatusCode != 200 || tok == "" {
		t.Fatalf("oauth login: %d %v", resp.StatusCode, body)
	}

	// "--": a base64url opaque token begins with "-" one time in 64.
	r := runDecodeCmd(t, "", "--", tok)
	wantDecode(t, r, 3, "Not a JWT", "opaque", "Length:", "bytes", session.Fingerprint(tok))
	if strings.Contains(r.out, tok) {
		t.Error("decode printed the opaque token")
	}
	if !strings.Contains(r.err.Error(), "not a JWT") {
		t.Errorf("error message: %v", r.err)
	}
	// A key does not change it: still 3, and no network is needed to say so.
	wantDecode(t, runDecodeCmd(t, "", "--secret", decodeTestSecret, "--", tok), 3)
	wantDecode(t, runDecodeCmd(t, "", "--jwks", "http://127.0.0.1:1/jwks.json", "--", tok), 3)

	r = runDecodeCmd(t, "", "--json", "--", tok)
	wantDecode(t, r, 3)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.out), &m); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.out)
	}
	if m["jwt"] != false || m["header"] != nil || m["claims"] != nil || m["length"] != float64(len(tok)) ||
		m["fingerprint"] != session.Fingerprint(tok) || m["phase"] != "no expiry" || m["expires_in_seconds"] != nil {
		t.Errorf("--json for an opaque token: %v", m)
	}
}

func TestDecodeJWKS(t *testing.T) {
	es := startDecodeDemo(t, demoserver.Options{Alg: demoserver.AlgES256})
	other := startDecodeDemo(t, demoserver.Options{Alg: demoserver.AlgES256})
	hs := startDecodeDemo(t, demoserver.Options{})
	tok := decodeLogin(t, es)
	jwks := es.URL() + "/.well-known/jwks.json"

	wantDecode(t, runDecodeCmd(t, "", "--jwks", jwks, tok), 0, "verified", `"alg": "ES256"`, "--jwks "+jwks)
	wantDecode(t, runDecodeCmd(t, "", "--jwks", other.URL()+"/.well-known/jwks.json", tok), 4, "INVALID")
	// An ES256 token checked with an HMAC secret: no key for it, never "verified".
	wantDecode(t, runDecodeCmd(t, "", "--secret", decodeTestSecret, tok), 4, "no key for alg ES256")

	// Key sets that cannot be used are usage errors with a clear message.
	wantFetchError(t, runDecodeCmd(t, "", "--jwks", hs.URL()+"/.well-known/jwks.json", tok), "no signing keys")
	wantFetchError(t, runDecodeCmd(t, "", "--jwks", es.URL()+"/no/such/jwks.json", tok), "HTTP 404")
	wantUsageError(t, runDecodeCmd(t, "", "--jwks", "file:///etc/passwd", tok), "not an http or https URL")
	wantUsageError(t, runDecodeCmd(t, "", "--jwks", "127.0.0.1/jwks.json", tok), "not an http or https URL")

	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"keys":[`))
		w.Write(bytes.Repeat([]byte(" "), 2<<20))
		w.Write([]byte(`]}`))
	}))
	defer big.Close()
	wantFetchError(t, runDecodeCmd(t, "", "--jwks", big.URL, tok), "larger than")

	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>")) }))
	defer notJSON.Close()
	wantFetchError(t, runDecodeCmd(t, "", "--jwks", notJSON.URL, tok), "not JSON")
}

func TestDecodeKeyFile(t *testing.T) {
	dir := t.TempDir()
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The ES256 demo server's public key, from its JWKS, as a PEM file.
	es := startDecodeDemo(t, demoserver.Options{Alg: demoserver.AlgES256})
	tok := decodeLogin(t, es)
	resp, err := http.Get(es.URL() + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set bytes.Buffer
	_, _ = set.ReadFrom(resp.Body)
	resp.Body.Close()
	keys, err := session.ParseJWKS(set.Bytes())
	if err != nil || len(keys) != 1 {
		t.Fatalf("JWKS: %v %v", keys, err)
	}
	var der []byte
	for _, k := range keys {
		if der, err = x509.MarshalPKIXPublicKey(k); err != nil {
			t.Fatal(err)
		}
	}
	esPEM := writePEM("es256.pem", "PUBLIC KEY", der)
	wantDecode(t, runDecodeCmd(t, "", "--key", esPEM, tok), 0, "verified", "--key "+esPEM)

	// A key of our own, and a token signed with it by golang-jwt.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edTok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"sub": "me", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	der, _ = x509.MarshalPKIXPublicKey(pub)
	edPEM := writePEM("ed.pem", "PUBLIC KEY", der)
	wantDecode(t, runDecodeCmd(t, "", "--key", edPEM, edTok), 0, "verified", `"alg": "EdDSA"`)
	wantDecode(t, runDecodeCmd(t, "", "--key", edPEM, tok), 4, "INVALID")
	wantDecode(t, runDecodeCmd(t, "", "--key", esPEM, edTok), 4, "INVALID")

	// Unusable key files are usage errors.
	privDER, _ := x509.MarshalPKCS8PrivateKey(priv)
	wantUsageError(t, runDecodeCmd(t, "", "--key", writePEM("priv.pem", "PRIVATE KEY", privDER), tok), "private keys are refused")
	wantUsageError(t, runDecodeCmd(t, "", "--key", filepath.Join(dir, "missing.pem"), tok), "--key")
	notPEM := filepath.Join(dir, "not.pem")
	_ = os.WriteFile(notPEM, []byte("hello"), 0o600)
	wantUsageError(t, runDecodeCmd(t, "", "--key", notPEM, tok), "no PEM public key")
}

func TestDecodeStdinAndBearer(t *testing.T) {
	s := startDecodeDemo(t, demoserver.Options{Secret: []byte(decodeTestSecret)})
	tok := decodeLogin(t, s)
	for name, c := range map[string]struct {
		stdin string
		args  []string
	}{
		"stdin, no argument":  {tok + "\n", nil},
		"stdin, dash":         {"  " + tok + "\r\n", []string{"-"}},
		"Bearer on stdin":     {"Bearer " + tok + "\n", nil},
		"bearer, lower case":  {"bearer   " + tok, []string{"-"}},
		"Bearer in argument":  {"", []string{"Bearer " + tok}},
		"argument over stdin": {"garbage", []string{tok}},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"--secret", decodeTestSecret}, c.args...)
			wantDecode(t, runDecodeCmd(t, c.stdin, args...), 0, "verified", session.Fingerprint(tok))
		})
	}
	for name, stdin := range map[string]string{"empty": "", "blank": " \n\t", "Bearer only": "Bearer \n", "bearer": "bearer"} {
		t.Run("no token: "+name, func(t *testing.T) {
			wantUsageError(t, runDecodeCmd(t, stdin), "no token")
			wantUsageError(t, runDecodeCmd(t, stdin, "-"), "no token")
		})
	}
	wantUsageError(t, runDecodeCmd(t, strings.Repeat("A", maxDecodeInput+1)), "more than")
}

func TestDecodeJSONOutput(t *testing.T) {
	s := startDecodeDemo(t, demoserver.Options{Secret: []byte(decodeTestSecret), AccessTTL: time.Minute})
	tok := decodeLogin(t, s)
	r := runDecodeCmd(t, "", "--json", "--secret", decodeTestSecret, tok)
	wantDecode(t, r, 0)
	var got struct {
		Header           map[string]any             `json:"header"`
		Claims           map[string]any             `json:"claims"`
		Times            map[string]*string         `json:"times"`
		ExpiresInSeconds *float64                   `json:"expires_in_seconds"`
		Expired          *bool                      `json:"expired"`
		Phase            string                     `json:"phase"`
		Fingerprint      string                     `json:"fingerprint"`
		Verification     map[string]json.RawMessage `json:"verification"`
		JWT              *bool                      `json:"jwt"`
	}
	dec := json.NewDecoder(strings.NewReader(r.out))
	if err := dec.Decode(&got); err != nil || dec.More() {
		t.Fatalf("--json is not one JSON object: %v\n%s", err, r.out)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(r.out), &raw)
	for _, k := range []string{"header", "claims", "times", "expires_in_seconds", "expired", "phase", "fingerprint", "verification", "jwt"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("--json lacks %q: %s", k, r.out)
		}
	}
	times := raw["times"].(map[string]any)
	for _, k := range []string{"iat", "nbf", "exp"} {
		if _, ok := times[k]; !ok {
			t.Errorf("times lacks %q: %s", k, r.out)
		}
	}
	if got.Header["alg"] != "HS256" || got.Claims["sub"] != "demo" || got.JWT == nil || !*got.JWT ||
		got.Phase != "fresh" || got.Expired == nil || *got.Expired || got.Fingerprint != session.Fingerprint(tok) ||
		string(got.Verification["status"]) != `"verified"` || string(got.Verification["reason"]) != `""` {
		t.Errorf("--json: %s", r.out)
	}
	if got.Times["nbf"] != nil || got.Times["iat"] == nil || got.Times["exp"] == nil {
		t.Fatalf("times: %s", r.out)
	}
	exp, err := time.Parse(time.RFC3339, *got.Times["exp"])
	if err != nil || exp.Unix() != int64(got.Claims["exp"].(float64)) {
		t.Errorf("times.exp %q does not match the exp claim %v: %v", *got.Times["exp"], got.Claims["exp"], err)
	}
	if got.ExpiresInSeconds == nil || *got.ExpiresInSeconds < 50 || *got.ExpiresInSeconds > 60 {
		t.Errorf("expires_in_seconds: %s", r.out)
	}

	// Expired and invalid, in JSON.
	old := startDecodeDemo(t, demoserver.Options{AccessTTL: time.Minute, Clock: demoserver.NewManualClock(time.Now().Add(-time.Hour))})
	r = runDecodeCmd(t, "", "--json", "--secret", decodeTestSecret, decodeLogin(t, old))
	wantDecode(t, r, 4)
	raw = nil
	if err := json.Unmarshal([]byte(r.out), &raw); err != nil {
		t.Fatal(err)
	}
	v := raw["verification"].(map[string]any)
	if raw["expired"] != true || raw["phase"] != "expired" || raw["expires_in_seconds"].(float64) > -3000 ||
		v["status"] != "invalid" || v["reason"] == "" {
		t.Errorf("--json for an expired, invalid token: %s", r.out)
	}

	// Claims are shown as sent: big numbers keep their digits, key order is kept.
	r = runDecodeCmd(t, "", "--json", craftToken(`{"alg":"none"}`, `{"z":1,"id":12345678901234567890,"a":0.1}`, ""))
	if !strings.Contains(r.out, `"claims":{"z":1,"id":12345678901234567890,"a":0.1}`) {
		t.Errorf("claims not kept as sent: %s", r.out)
	}
}

func TestDecodeTimes(t *testing.T) {
	now := time.Now()
	unix := func(d time.Duration) string { return jsonNum(now.Add(d).Unix()) }
	tok := craftToken(`{"alg":"none"}`, `{"iat":`+unix(-30*time.Second)+`,"nbf":`+unix(5*time.Minute)+`,"exp":`+unix(2*time.Hour+30*time.Minute)+`}`, "")
	r := runDecodeCmd(t, "", tok)
	wantDecode(t, r, 4)
	stamp := `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+`
	for _, re := range []string{
		`(?m)^  iat  ` + stamp + `  issued (29|30|31)s ago$`,
		`(?m)^  nbf  ` + stamp + `  not valid for another 4m5\ds$`,
		`(?m)^  exp  ` + stamp + `  expires in 2h29m$`,
		`(?m)^Phase: +fresh$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.out) {
			t.Errorf("output does not match %s:\n%s", re, r.out)
		}
	}
	if want := now.Add(5 * time.Minute).Local().Format("2006-01-02 15:04:05 MST"); !strings.Contains(r.out, want) {
		t.Errorf("nbf not shown as local time %q:\n%s", want, r.out)
	}

	r = runDecodeCmd(t, "", craftToken(`{"alg":"HS256"}`, `{"sub":"x","exp":`+unix(-3*time.Minute)+`}`, "c2ln"))
	wantDecode(t, r, 1, "expired 3m", "Phase:       expired") // 3m or 3m1s: exp is whole seconds, now is not
	r = runDecodeCmd(t, "", craftToken(`{"alg":"HS256"}`, `{"sub":"x","iat":`+unix(time.Hour+2*time.Second)+`}`, "c2ln"))
	wantDecode(t, r, 0, "issued 1h in the future", "Phase:       no expiry")
	r = runDecodeCmd(t, "", craftToken(`{"alg":"HS256"}`, `{"sub":"x"}`, "c2ln"))
	wantDecode(t, r, 0, "no iat, nbf or exp claim", "no expiry")
	// An exp that is not a number makes a malformed token: 3, with the reason.
	r = runDecodeCmd(t, "", craftToken(`{"alg":"HS256"}`, `{"exp":"tomorrow"}`, "c2ln"))
	wantDecode(t, r, 3, "exp is not a number")
	// Times far away: no overflow, no panic.
	r = runDecodeCmd(t, "", craftToken(`{"alg":"HS256"}`, `{"exp":1e17,"iat":-1e17}`, "c2ln"))
	wantDecode(t, r, 0, "expires in more than 292y", "issued more than 292y ago")
}

func TestDecodeHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                    "0s",
		400 * time.Millisecond:               "400ms",
		5 * time.Second:                      "5s",
		4*time.Minute + 12*time.Second:       "4m12s",
		3 * time.Minute:                      "3m",
		3*time.Minute + 400*time.Millisecond: "3m",
		2*time.Hour + 29*time.Minute + 59*time.Second: "2h29m",
		time.Hour + 5*time.Second:                     "1h",
		2*time.Hour + 30*time.Minute:                  "2h30m",
		49 * time.Hour:                                "2d1h",
		400 * 24 * time.Hour:                          "1y35d",
		time.Duration(1<<63 - 1):                      "more than 292y",
		59*time.Second + 600*time.Millisecond:         "59s",
	} {
		if got := human.Approx(d); got != want {
			t.Errorf("human.Approx(%v) = %q, want %q", d, got, want)
		}
	}
	if got := human.Abs(time.Duration(-1 << 63)); got != time.Duration(1<<63-1) {
		t.Errorf("Abs(min) = %v", got)
	}
}

// noTerminalControls fails when s holds anything a terminal could act on.
func noTerminalControls(t *testing.T, what, s string) {
	t.Helper()
	for i, r := range s {
		if (r < 0x20 && r != '\n') || (r >= 0x7f && r <= 0x9f) || sanitize.IsBidi(r) {
			t.Errorf("%s holds control %U at byte %d:\n%q", what, r, i, s)
			return
		}
	}
	if !utf8Valid(s) {
		t.Errorf("%s is not valid UTF-8: %q", what, s)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

func TestDecodeStripsTerminalControls(t *testing.T) {
	evilSub := "\x1b]0;pwned\x07"
	payload, _ := json.Marshal(map[string]any{"sub": evilSub, "exp": time.Now().Add(time.Hour).Unix()})
	// Raw in the JSON (legal there): DEL, a C1 CSI, an OSC ended by C1 ST, a bidi override, and
	// an invalid UTF-8 byte that is an 8-bit CSI on some terminals.
	rawPayload := "{\"name\":\"a\x7fb\u009b2Jc\u009d0;title\u009c\u202egnp.exe\",\"x\":\"\x9b31m\"}"
	for name, tok := range map[string]string{
		"escaped ESC in sub":    craftToken(`{"alg":"none"}`, string(payload), ""),
		"raw C1 and bidi":       craftToken(`{"alg":"none"}`, rawPayload, ""),
		"C1 in alg":             craftToken("{\"alg\":\"HS256\u009b2J\x7f\",\"kid\":\"\u009b2J\"}", rawPayload, "c2ln"),
		"raw ESC (bad JSON)":    craftToken(`{"alg":"none"}`, "{\"sub\":\"\x1b]0;pwned\x07\"}", ""),
		"ESC in bad base64":     "eyJ\x1b[2J.eyJ.x",
		"ESC in opaque":         "abc\x1b]0;pwned\x07def",
		"ESC in 5 segments":     "a.b.c.d.\x1b[31m",
		"bidi in header name":   craftToken("{\"alg\":\"none\",\"\u202ekid\":1}", `{}`, ""),
		"C1 in the ignored exp": craftToken(`{"alg":"HS256"}`, "{\"exp\":\"\u009b2J\"}", "c2ln"),
	} {
		t.Run(name, func(t *testing.T) {
			for _, args := range [][]string{{tok}, {"--json", tok}, {"--secret", decodeTestSecret, tok}, {"--json", "--secret", decodeTestSecret, tok}} {
				r := runDecodeCmd(t, "", args...)
				if r.err != nil && !decodeVerdict(r.code) {
					t.Errorf("%q: want exit 0, 1, 3 or 4, got %s", args[:len(args)-1], r)
				}
				noTerminalControls(t, "stdout", r.out)
				noTerminalControls(t, "stderr", r.stderr)
				noTerminalControls(t, "the error as printed", r.printedErr)
				if args[0] == "--json" && !json.Valid([]byte(r.out)) {
					t.Errorf("--json output is not JSON: %q", r.out)
				}
			}
		})
	}

	// JSON keeps the claim faithfully (escaped), so scripts see what the token says.
	r := runDecodeCmd(t, "", "--json", craftToken(`{"alg":"none"}`, rawPayload, ""))
	var m struct{ Claims map[string]string }
	if err := json.Unmarshal([]byte(r.out), &m); err != nil || m.Claims["name"] != "a\x7fb\u009b2Jc\u009d0;title\u009c\u202egnp.exe" {
		t.Errorf("--json changed the claim: %q %v", m.Claims["name"], err)
	}
	// The text form shows the escaped sequence instead of running it.
	r = runDecodeCmd(t, "", craftToken(`{"alg":"none"}`, string(payload), ""))
	if !strings.Contains(r.out, `"sub": "\u001b]0;pwned\u0007"`) {
		t.Errorf("text form does not show the escaped sub:\n%s", r.out)
	}
}

func TestDecodeSanitizeHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ntext":              "plain\ntext",
		"a\x1b]0;pwned\x07b":       "ab",
		"a\x1b[31mred\x1b[0m":      "ared",
		"a\u009b31mb\u202e":        "a\ufffd31mb\ufffd",
		"tab\there\r":              "tab    here\ufffd", // a tab is spaces, a CR is shown
		"bad\xffbyte":              "badbyte",           // ansi.Strip drops the stray byte
		"x\x1bPdcs\x1b\\y\x00\x7f": "xy\ufffd\ufffd",
	} {
		if got := sanitize.Text(in); got != want {
			t.Errorf("sanitize.Text(%q) = %q, want %q", in, got, want)
		}
	}
	in := "{\"a\":\"x\x7f\u0085\u202e\xff\"}"
	out := sanitize.EscapeJSON([]byte(in))
	if string(out) != `{"a":"x\u007f\u0085\u202e\ufffd"}` || !json.Valid(out) {
		t.Errorf("sanitize.EscapeJSON(%q) = %q", in, out)
	}
}

func TestDecodeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tok := craftToken(`{"alg":"HS256"}`, `{"sub":"x"}`, "c2ln")
	pemFile := filepath.Join(dir, "k.pem")
	_ = os.WriteFile(pemFile, []byte("x"), 0o600)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--secret", "s", "--key", pemFile, tok}, "at most one of"},
		{[]string{"--secret-env", "X", "--jwks", "http://127.0.0.1:1/", tok}, "at most one of"},
		{[]string{"--secret", "s", "--secret-env", "X", tok}, "at most one of"},
		{[]string{"--secret", "", tok}, "--secret: the secret is empty"},
		{[]string{"--secret-env", "TOKENSCOPE_DECODE_TEST_UNSET", tok}, "--secret-env TOKENSCOPE_DECODE_TEST_UNSET: the variable is empty or unset"},
		{[]string{"--key", filepath.Join(dir, "nope.pem"), tok}, "--key"},
		{[]string{"--key", "", tok}, "--key"},
		{[]string{"--jwks", "", tok}, "--jwks"},
		{[]string{tok, tok}, "accepts at most 1 arg"},
		{[]string{"--frobnicate", tok}, "unknown flag"},
	} {
		r := runDecodeCmd(t, "", c.args...)
		wantUsageError(t, r, c.msg)
		if r.out != "" {
			t.Errorf("%q: a usage error printed a report:\n%s", c.args, r.out)
		}
	}
}

func TestDecodeMalformedInputs(t *testing.T) {
	mib := 1 << 20
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	cases := map[string]string{
		"two segments":        "abc.def",
		"three bad segments":  "a.b.c",
		"dots only":           "..",
		"one dot":             ".",
		"five segments (JWE)": "a.b.c.d.e",
		"empty header object": b64("{}") + "." + b64("{}") + ".",
		"null header":         b64("null") + "." + b64("null") + ".x",
		"array header":        b64("[]") + "." + b64("{}") + ".x",
		"string payload":      b64(`{"alg":"none"}`) + "." + b64(`"x"`) + ".",
		"padding":             b64(`{"alg":"none"}`) + "==." + b64(`{}`) + ".",
		"std base64":          base64.StdEncoding.EncodeToString([]byte(`{"alg":"HS256","x":"??>>"}`)) + ".e30.x",
		"exp out of range":    craftToken(`{"alg":"HS256"}`, `{"exp":1e300,"nbf":-1e300,"iat":1e19}`, "x"),
		"exp negative":        craftToken(`{"alg":"HS256"}`, `{"exp":-1e17}`, "x"),
		"exp fractional":      craftToken(`{"alg":"HS256"}`, `{"exp":1.5e9}`, "x"),
		"exp bool":            craftToken(`{"alg":"HS256"}`, `{"exp":true,"iat":{},"nbf":[]}`, "x"),
		"deep nesting":        craftToken(`{"alg":"none"}`, strings.Repeat(`{"a":`, 5000)+"1"+strings.Repeat("}", 5000), ""),
		"alg not a string":    craftToken(`{"alg":7,"kid":[]}`, `{}`, "x"),
		"1 MiB opaque":        strings.Repeat("A", mib),
		"1 MiB with two dots": strings.Repeat("A", mib/2) + "." + strings.Repeat("B", mib/2-2) + ".",
		"1 MiB valid-ish JWT": craftToken(`{"alg":"none"}`, `{"pad":"`+strings.Repeat("x", mib)+`"}`, ""),
		"1 MiB of dots":       strings.Repeat(".", mib),
		"non-ASCII":           "tøkén.ñ.😀",
		"NUL":                 "a\x00b.c.d",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			for _, r := range []decodeResult{
				runDecodeCmd(t, tok+"\n"),
				runDecodeCmd(t, "", "--json", "--secret", decodeTestSecret, "--", tok),
			} {
				if r.err == nil || !decodeVerdict(r.code) {
					t.Errorf("want exit 1, 3 or 4, got exit %d: %v", r.code, r.err)
				}
				if !strings.Contains(r.out, "ingerprint") || len(r.out) > 64<<10 {
					t.Errorf("output lacks the fingerprint or is huge (%d bytes): %.500s", len(r.out), r.out)
				}
				noTerminalControls(t, "stdout", r.out)
			}
		})
	}
	r := runDecodeCmd(t, "", "a.b.c.d.e")
	wantDecode(t, r, 3, "JWE")
	r = runDecodeCmd(t, "", strings.Repeat("A", mib/2)+"."+strings.Repeat("B", mib/2-2)+".")
	wantDecode(t, r, 3, "not decoded (limit")
}

func TestDecodeHelp(t *testing.T) {
	r := runDecodeCmd(t, "", "--help")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{"Examples:", "Exit status", "tokenscope decode eyJ", "| tokenscope decode",
		"--secret-env JWT_SECRET", "--jwks https://", "process list", "--json", "--key", "alg \"none\""} {
		if !strings.Contains(r.out, want) {
			t.Errorf("--help lacks %q:\n%s", want, r.out)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(craftToken(`{"alg":"none"}`, `{"sub":"x","exp":1}`, ""))
	f.Add(craftToken(`{"alg":"HS256","kid":"\u001b"}`, "{\"sub\":\"\u009b\x7f\"}", "c2ln"))
	f.Add("Bearer a.b.c")
	f.Add("a.b")
	f.Add("\x1b]0;x\x07")
	f.Fuzz(func(t *testing.T, tok string) {
		for _, args := range [][]string{nil, {"--json"}} {
			r := runDecodeCmd(t, tok, args...)
			noTerminalControls(t, "stdout", r.out)
			noTerminalControls(t, "the error as printed", r.printedErr)
			if r.err == nil && !strings.Contains(r.out, "ingerprint") {
				t.Errorf("success without a report: %s", r)
			}
		}
	})
}

// TestDecodeThroughRoot runs decode as `tokenscope decode`, the way main does.
func TestDecodeThroughRoot(t *testing.T) {
	var out, errb bytes.Buffer
	root := newRootCmd(&out, &errb)
	root.SetArgs([]string{"decode", "-"})
	root.SetIn(strings.NewReader("Bearer " + craftToken(`{"alg":"none"}`, `{"sub":"x"}`, "") + "\n"))
	err := root.ExecuteContext(context.Background())
	if exitCode(err) != decodeExitInvalid || !strings.Contains(out.String(), `alg "none"`) {
		t.Errorf("tokenscope decode: exit %d (%v)\n%s%s", exitCode(err), err, out.String(), errb.String())
	}
	if errb.Len() != 0 {
		t.Errorf("decode wrote to stderr itself (main prints the error): %q", errb.String())
	}
}

// TestDecodeTokenStartingWithDash: without --, a token that looks like flags gets a hint;
// with --, it decodes.
func TestDecodeTokenStartingWithDash(t *testing.T) {
	tok := "-mTWsgqi_RpZ5fvYh6Jslwrpog7y7oZ1"
	r := runDecodeCmd(t, "", tok)
	if r.err == nil || !strings.Contains(r.err.Error(), "goes after --") {
		t.Errorf("no hint for a token starting with -: %v", r.err)
	}
	r = runDecodeCmd(t, "", "--", tok)
	wantDecode(t, r, 3, "Not a JWT", "opaque")
}
