package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RFC 7638 §3.1's example key and its thumbprint.
func TestThumbprintRFC7638Example(t *testing.T) {
	jwk := map[string]any{
		"kty": "RSA",
		"n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP" +
			"ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
		"e":   "AQAB",
		"alg": "RS256",
		"kid": "2011-04-29",
	}
	got, err := Thumbprint(jwk)
	if err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %q, %v", got, err)
	}
	for _, bad := range []map[string]any{{"kty": "oct", "k": "x"}, {"kty": "EC", "crv": "P-256", "x": "a"}, {}} {
		if _, err := Thumbprint(bad); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestKeyThumbprintAndNoPrivateParts(t *testing.T) {
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	jwk := k.PublicJWK()
	if _, ok := jwk["d"]; ok || len(jwk) != 4 {
		t.Fatalf("public JWK %v", jwk)
	}
	if tp, _ := Thumbprint(jwk); tp != k.Thumbprint() || len(tp) != 43 {
		t.Errorf("thumbprint %q vs %q", tp, k.Thumbprint())
	}
	raw, err := k.priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d, dec := base64.RawURLEncoding.EncodeToString(raw), new(big.Int).SetBytes(raw).String()
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%v", *k)} {
		if strings.Contains(s, d) || strings.Contains(s, dec) {
			t.Errorf("printing the key shows its private part: %.80s", s)
		}
	}
}

// parseProof verifies a proof with the key in its own jwk header, as a server does.
func parseProof(t *testing.T, raw string) (*jwt.Token, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"})).ParseWithClaims(raw, claims, func(tk *jwt.Token) (any, error) {
		jwk, _ := tk.Header["jwk"].(map[string]any)
		x, _ := base64.RawURLEncoding.DecodeString(jwk["x"].(string))
		y, _ := base64.RawURLEncoding.DecodeString(jwk["y"].(string))
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	})
	if err != nil {
		t.Fatalf("proof does not verify with its own jwk: %v", err)
	}
	return tok, claims
}

func TestProofClaims(t *testing.T) {
	k, _ := NewKey()
	u, _ := url.Parse("HTTPS://API.Example:8443/items/7?page=2#top")
	iat := time.Date(2026, 11, 27, 10, 0, 0, 500, time.UTC)
	raw, info, err := k.Sign("POST", u, iat, "n-1", "the-access-token")
	if err != nil {
		t.Fatal(err)
	}
	tok, c := parseProof(t, raw)
	if tok.Header["typ"] != "dpop+jwt" || tok.Header["alg"] != "ES256" {
		t.Errorf("header %v", tok.Header)
	}
	if jwk := tok.Header["jwk"].(map[string]any); jwk["d"] != nil || jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
		t.Errorf("jwk %v", jwk)
	}
	want := map[string]any{"htm": "POST", "htu": "https://api.example:8443/items/7", "nonce": "n-1",
		"ath": AccessTokenHash("the-access-token"), "iat": float64(iat.Unix()), "jti": info.JTI}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if len(info.JTI) < 20 || !info.Nonce || !info.ATH || info.HTU != want["htu"] || !info.IAT.Equal(iat.Truncate(time.Second)) {
		t.Errorf("info %+v", info)
	}
	// A token call: no ath, no nonce; every proof a new jti.
	raw2, info2, _ := k.Sign("POST", u, iat, "", "")
	if _, c2 := parseProof(t, raw2); c2["ath"] != nil || c2["nonce"] != nil || info2.JTI == info.JTI {
		t.Errorf("token-call proof %v (jti %s vs %s)", c2, info2.JTI, info.JTI)
	}
	// RFC 9449 §4.2's own ath example.
	if got := AccessTokenHash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"); got != "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo" {
		t.Errorf("ath %s", got)
	}
}

// fakeServer answers like an authorization server (/token) and a resource server (/api) that
// both require their own nonce, and records the proofs it saw.
type fakeServer struct {
	mu     sync.Mutex
	proofs []jwt.MapClaims
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	claims := jwt.MapClaims{}
	if p := r.Header.Get(Header); p != "" {
		_, _, _ = jwt.NewParser().ParseUnverified(p, claims)
	}
	f.mu.Lock()
	f.proofs = append(f.proofs, claims)
	f.mu.Unlock()
	nonce := map[string]string{"/token": "as-nonce", "/api": "rs-nonce"}[r.URL.Path]
	w.Header().Set(NonceHeader, nonce)
	switch {
	case claims["nonce"] == nonce:
		fmt.Fprintf(w, `{"ok":true,"body":%q}`, body)
	case r.URL.Path == "/token":
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"use_dpop_nonce","error_description":"nonce please"}`)
	default:
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="nonce please"`)
		w.WriteHeader(http.StatusUnauthorized)
	}
}

func TestTransportNonceDance(t *testing.T) {
	f := &fakeServer{}
	ts := httptest.NewServer(f)
	defer ts.Close()
	k, _ := NewKey()
	var seen []Proof
	tr := &Transport{Base: http.DefaultTransport, Key: k,
		TokenCall: func(r *http.Request) bool { return r.URL.Path == "/token" },
		OnProof:   func(_ *http.Request, p Proof) { seen = append(seen, p) }}
	c := &http.Client{Transport: tr}

	resp, err := c.Post(ts.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "grant_type=x") {
		t.Fatalf("token call after the nonce: %d %s (the body must be sent again intact)", resp.StatusCode, b)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/api?q=1", nil)
	req.Header.Set("Authorization", "DPoP tok")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || req.Header.Get(Header) != "" {
		t.Fatalf("resource call: %d; the caller's request must stay untouched", resp.StatusCode)
	}
	// Later calls send the kept nonce at once: one proof each.
	resp, _ = c.Post(ts.URL+"/token", "text/plain", strings.NewReader("again"))
	resp.Body.Close()
	if len(f.proofs) != 5 || len(seen) != 5 {
		t.Fatalf("server saw %d proofs, OnProof %d; want 5", len(f.proofs), len(seen))
	}
	if !seen[1].Retry || !seen[1].Nonce || seen[0].Nonce || seen[0].JTI == seen[1].JTI || !seen[3].Retry || seen[4].Retry || !seen[4].Nonce {
		t.Errorf("proofs %+v", seen)
	}
	if f.proofs[3]["nonce"] != "rs-nonce" || f.proofs[4]["nonce"] != "as-nonce" || f.proofs[3]["ath"] != AccessTokenHash("tok") {
		t.Errorf("nonces kept per role: %v / %v", f.proofs[3], f.proofs[4])
	}
	if f.proofs[2]["nonce"] != nil {
		t.Errorf("the AS nonce went to the resource server: %v", f.proofs[2])
	}
}

func TestTransportPassesOtherCallsAndUnreplayableBodies(t *testing.T) {
	f := &fakeServer{}
	ts := httptest.NewServer(f)
	defer ts.Close()
	k, _ := NewKey()
	tr := &Transport{Base: http.DefaultTransport, Key: k, TokenCall: func(r *http.Request) bool { return r.URL.Path == "/token" }}
	c := &http.Client{Transport: tr}
	resp, _ := c.Get(ts.URL + "/other")
	resp.Body.Close()
	if len(f.proofs[0]) != 0 {
		t.Errorf("a call that needs no proof got one: %v", f.proofs[0])
	}
	// A body that cannot be read twice is not sent twice: the refusal comes back, readable.
	req, _ := http.NewRequest("POST", ts.URL+"/token", io.NopCloser(strings.NewReader("x")))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "use_dpop_nonce") || len(f.proofs) != 2 {
		t.Errorf("%d %s after %d calls", resp.StatusCode, b, len(f.proofs))
	}
}
