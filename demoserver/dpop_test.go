package demoserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// prover signs DPoP proofs the way RFC 9449 §4.2 says, written here from the RFC rather than
// shared with the client, so that the server is checked against an independent reading.
type prover struct {
	key *ecdsa.PrivateKey
	jwk map[string]any
	jkt string
	n   int
}

func newProver(t *testing.T) *prover {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := k.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := b64(pt[1:33]), b64(pt[33:])
	canon := `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	return &prover{key: k, jwk: map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y}, jkt: s256(canon)}
}

// proofOpts change one thing about a proof.
type proofOpts struct {
	jti, nonce, ath, typ string
	iat                  time.Time
	header               map[string]any // extra header members (a private key, say)
}

func (p *prover) proof(t *testing.T, method, htu string, o proofOpts) string {
	t.Helper()
	p.n++
	if o.jti == "" {
		o.jti = "jti-" + randHex(8)
	}
	if o.iat.IsZero() {
		o.iat = epoch
	}
	if o.typ == "" {
		o.typ = "dpop+jwt"
	}
	c := jwt.MapClaims{"jti": o.jti, "htm": method, "htu": htu, "iat": o.iat.Unix()}
	if o.nonce != "" {
		c["nonce"] = o.nonce
	}
	if o.ath != "" {
		c["ath"] = s256(o.ath)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["typ"] = o.typ
	jwk := map[string]any{}
	for k, v := range p.jwk {
		jwk[k] = v
	}
	for k, v := range o.header {
		jwk[k] = v
	}
	tok.Header["jwk"] = jwk
	s, err := tok.SignedString(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// passwordDPoP logs in with the password grant and a proof.
func passwordDPoP(t *testing.T, h *harness, p *prover, o proofOpts) answer {
	t.Helper()
	return h.postForm("/oauth/token", oauthForm("grant_type", "password", "username", "demo", "password", "demo"),
		"DPoP", p.proof(t, "POST", h.url+"/oauth/token", o))
}

func dpopGet(t *testing.T, h *harness, p *prover, access string, o proofOpts) answer {
	t.Helper()
	if o.ath == "" {
		o.ath = access
	}
	return h.do("GET", "/api/me", "", nil, "Authorization", "DPoP "+access, "DPoP", p.proof(t, "GET", h.url+"/api/me", o))
}

func TestDPoPDiscoveryAdvertisesAlgs(t *testing.T) {
	h := newHarness(t, Options{})
	d := h.do("GET", "/.well-known/openid-configuration", "", nil)
	if !strings.Contains(d.raw, `"dpop_signing_alg_values_supported":["ES256"`) {
		t.Errorf("discovery lacks dpop_signing_alg_values_supported: %s", d.raw)
	}
	off := newHarness(t, Options{NoDPoP: true})
	if d := off.do("GET", "/.well-known/openid-configuration", "", nil); strings.Contains(d.raw, "dpop_") {
		t.Errorf("NoDPoP still advertises DPoP: %s", d.raw)
	}
}

func TestDPoPBindsTokensAndResourcesCheckTheBinding(t *testing.T) {
	h := newHarness(t, Options{})
	p := newProver(t)
	a := passwordDPoP(t, h, p, proofOpts{})
	expectOK(t, a, "password grant with a proof")
	if a.str("token_type") != "DPoP" {
		t.Fatalf("token_type %q, want DPoP", a.str("token_type"))
	}
	access := a.str("access_token")
	cnf, _ := decodeClaims(t, access)["cnf"].(map[string]any)
	if cnf["jkt"] != p.jkt {
		t.Fatalf("cnf %v, want jkt %s", cnf, p.jkt)
	}
	if r := dpopGet(t, h, p, access, proofOpts{}); r.status != 200 {
		t.Fatalf("DPoP resource call: %d %s", r.status, r.raw)
	}
	for name, r := range map[string]answer{
		"as Bearer":     h.do("GET", "/api/me", "", nil, "Authorization", "Bearer "+access),
		"without proof": h.do("GET", "/api/me", "", nil, "Authorization", "DPoP "+access),
		"wrong ath":     dpopGet(t, h, p, access, proofOpts{ath: "another token"}),
		"other key":     dpopGet(t, h, newProver(t), access, proofOpts{}),
		"wrong htm":     h.do("GET", "/api/me", "", nil, "Authorization", "DPoP "+access, "DPoP", p.proof(t, "POST", h.url+"/api/me", proofOpts{ath: access})),
	} {
		if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "DPoP ") {
			t.Errorf("%s: %d %q, want 401 with a DPoP challenge", name, r.status, r.header.Get("WWW-Authenticate"))
		}
	}
	// Userinfo takes the bound token as the resources do.
	code := mustCode(t, h, authParams(testRedirect))
	f := oauthForm("grant_type", "authorization_code", "code", code, "redirect_uri", testRedirect, "code_verifier", testVerifier)
	c := h.postForm("/oauth/token", f, "DPoP", p.proof(t, "POST", h.url+"/oauth/token", proofOpts{}))
	expectOK(t, c, "code with a proof")
	u := h.do("GET", "/userinfo", "", nil, "Authorization", "DPoP "+c.str("access_token"),
		"DPoP", p.proof(t, "GET", h.url+"/userinfo", proofOpts{ath: c.str("access_token")}))
	if u.status != 200 || u.str("sub") != "demo" {
		t.Errorf("userinfo with DPoP: %d %s", u.status, u.raw)
	}
}

func TestDPoPBadProofsRejectedAtTheTokenEndpoint(t *testing.T) {
	h := newHarness(t, Options{})
	p := newProver(t)
	tokenURL := h.url + "/oauth/token"
	replayed := p.proof(t, "POST", tokenURL, proofOpts{jti: "once"})
	form := oauthForm("grant_type", "password", "username", "demo", "password", "demo")
	expectOK(t, h.postForm("/oauth/token", form, "DPoP", replayed), "first use of a proof")
	hsProof, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"jti": "x", "htm": "POST", "htu": tokenURL, "iat": epoch.Unix()}).SignedString([]byte("0123456789abcdef0123456789abcdef"))
	for name, proof := range map[string]string{
		"replayed jti":   replayed,
		"wrong htu":      p.proof(t, "POST", h.url+"/elsewhere", proofOpts{}),
		"wrong htm":      p.proof(t, "GET", tokenURL, proofOpts{}),
		"wrong typ":      p.proof(t, "POST", tokenURL, proofOpts{typ: "JWT"}),
		"old iat":        p.proof(t, "POST", tokenURL, proofOpts{iat: epoch.Add(-5 * time.Minute)}),
		"future iat":     p.proof(t, "POST", tokenURL, proofOpts{iat: epoch.Add(5 * time.Minute)}),
		"private jwk":    p.proof(t, "POST", tokenURL, proofOpts{header: map[string]any{"d": "AAAA"}}),
		"symmetric alg":  hsProof,
		"not a JWT":      "not.a.jwt",
		"other key's x":  p.proof(t, "POST", tokenURL, proofOpts{header: map[string]any{"x": newProver(t).jwk["x"]}}),
		"query in htu ✓": p.proof(t, "POST", tokenURL+"?a=b", proofOpts{}), // accepted: query is ignored
	} {
		a := h.postForm("/oauth/token", form, "DPoP", proof)
		if strings.HasSuffix(name, "✓") {
			expectOK(t, a, name)
			continue
		}
		if a.status != 400 || a.str("error") != "invalid_dpop_proof" {
			t.Errorf("%s: %d %s, want 400 invalid_dpop_proof", name, a.status, a.raw)
		}
	}
	if st := h.srv.Stats(); st.DPoPProofsRejected != 10 || st.DPoPProofsOK != 2 {
		t.Errorf("stats ok %d rejected %d, want 2 and 10", st.DPoPProofsOK, st.DPoPProofsRejected)
	}
}

func TestDPoPRefreshNeedsTheSameKey(t *testing.T) {
	h := newHarness(t, Options{})
	p := newProver(t)
	a := passwordDPoP(t, h, p, proofOpts{})
	expectOK(t, a, "login")
	refresh := func(proof string) answer {
		f := oauthForm("grant_type", "refresh_token", "refresh_token", a.str("refresh_token"))
		if proof == "" {
			return h.postForm("/oauth/token", f)
		}
		return h.postForm("/oauth/token", f, "DPoP", proof)
	}
	if r := refresh(newProver(t).proof(t, "POST", h.url+"/oauth/token", proofOpts{})); r.status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Errorf("refresh with another key: %d %s", r.status, r.raw)
	}
	if r := refresh(""); r.status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Errorf("refresh without a proof: %d %s", r.status, r.raw)
	}
	// The refused attempts used nothing up: the right key still refreshes, and binds again.
	r := refresh(p.proof(t, "POST", h.url+"/oauth/token", proofOpts{}))
	expectOK(t, r, "refresh with the login's key")
	if r.str("token_type") != "DPoP" || h.srv.Stats().ReuseDetected != 0 {
		t.Errorf("token_type %q reuse %d", r.str("token_type"), h.srv.Stats().ReuseDetected)
	}
}

func TestDPoPNoncesAtBothServers(t *testing.T) {
	h := newHarness(t, Options{DPoPNonce: true})
	p := newProver(t)
	form := oauthForm("grant_type", "password", "username", "demo", "password", "demo")
	if a := h.postForm("/oauth/token", form); a.str("error") != "invalid_dpop_proof" {
		t.Errorf("no proof at a nonce-requiring server: %d %s", a.status, a.raw)
	}
	a := passwordDPoP(t, h, p, proofOpts{})
	asNonce := a.header.Get("DPoP-Nonce")
	if a.status != 400 || a.str("error") != "use_dpop_nonce" || asNonce == "" {
		t.Fatalf("no nonce: %d %s nonce %q", a.status, a.raw, asNonce)
	}
	a = passwordDPoP(t, h, p, proofOpts{nonce: asNonce})
	expectOK(t, a, "with the nonce")
	access := a.str("access_token")
	r := dpopGet(t, h, p, access, proofOpts{nonce: asNonce})
	rsNonce := r.header.Get("DPoP-Nonce")
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) || rsNonce == "" || rsNonce == asNonce {
		t.Fatalf("resource without its nonce: %d %q nonce %q (AS nonce %q)", r.status, r.header.Get("WWW-Authenticate"), rsNonce, asNonce)
	}
	if r := dpopGet(t, h, p, access, proofOpts{nonce: rsNonce}); r.status != 200 {
		t.Fatalf("resource with its nonce: %d %s", r.status, r.raw)
	}
	// After a rotation the old nonce still works once more, and answers carry the new one.
	h.srv.RotateDPoPNonces()
	r = dpopGet(t, h, p, access, proofOpts{nonce: rsNonce})
	if r.status != 200 || r.header.Get("DPoP-Nonce") == rsNonce {
		t.Errorf("after rotation: %d, nonce %q (old %q)", r.status, r.header.Get("DPoP-Nonce"), rsNonce)
	}
	if st := h.srv.Stats(); st.DPoPNonceChallenges != 2 {
		t.Errorf("nonce challenges %d, want 2", st.DPoPNonceChallenges)
	}
}

func TestDPoPJKTBindsTheCode(t *testing.T) {
	h := newHarness(t, Options{})
	p := newProver(t)
	redeemWith := func(q *prover) answer {
		code := mustCode(t, h, authParams(testRedirect, "dpop_jkt", p.jkt))
		f := oauthForm("grant_type", "authorization_code", "code", code, "redirect_uri", testRedirect, "code_verifier", testVerifier)
		if q == nil {
			return h.postForm("/oauth/token", f)
		}
		return h.postForm("/oauth/token", f, "DPoP", q.proof(t, "POST", h.url+"/oauth/token", proofOpts{}))
	}
	if a := redeemWith(newProver(t)); a.str("error") != "invalid_grant" || !strings.Contains(a.str("error_description"), "dpop_jkt") {
		t.Errorf("code bound to another key: %d %s", a.status, a.raw)
	}
	if a := redeemWith(nil); a.str("error") != "invalid_grant" {
		t.Errorf("code bound to a key, no proof: %d %s", a.status, a.raw)
	}
	a := redeemWith(p)
	expectOK(t, a, "code with its key")
	if a.str("token_type") != "DPoP" {
		t.Errorf("token_type %q", a.str("token_type"))
	}
	bad := newBrowser(t).get(h.url + "/authorize?" + authParams(testRedirect, "dpop_jkt", "short").Encode())
	if bad.loc == nil || bad.loc.Query().Get("error") != "invalid_request" {
		t.Errorf("malformed dpop_jkt: %d %v", bad.status, bad.loc)
	}
}

func TestDPoPIgnoredByNoDPoP(t *testing.T) {
	h := newHarness(t, Options{NoDPoP: true})
	a := passwordDPoP(t, h, newProver(t), proofOpts{})
	expectOK(t, a, "login")
	if a.str("token_type") != "Bearer" {
		t.Errorf("token_type %q, want Bearer", a.str("token_type"))
	}
	if r := h.do("GET", "/api/me", "", nil, "Authorization", "Bearer "+a.str("access_token")); r.status != 200 {
		t.Errorf("Bearer call: %d", r.status)
	}
}

func TestDPoPReplayMemoryIsBounded(t *testing.T) {
	var d dpopState
	now := epoch
	for i := 0; i < dpopMaxJTIs+10; i++ {
		if !d.remember("j"+strconv.Itoa(i), now) {
			t.Fatal("a fresh jti was taken for a replay")
		}
	}
	if len(d.seen) > dpopMaxJTIs || len(d.order) > dpopMaxJTIs {
		t.Errorf("memory %d/%d, want at most %d", len(d.seen), len(d.order), dpopMaxJTIs)
	}
	if !d.remember("late", now.Add(3*dpopIatWindow)) || len(d.seen) != 1 {
		t.Errorf("after the window the old jtis should be forgotten: %d left", len(d.seen))
	}
	if d.remember("late", now.Add(3*dpopIatWindow)) {
		t.Error("a replay within the window was accepted")
	}
}

// Whatever a client puts in the DPoP header is refused with invalid_dpop_proof, never a panic.
func TestDPoPJunkProofsRefused(t *testing.T) {
	h := newHarness(t, Options{})
	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	claims := seg(map[string]any{"jti": "j", "htm": "POST", "htu": h.url + "/oauth/token", "iat": epoch.Unix()})
	junk := []string{
		"", ".", "..", "a.b.c", strings.Repeat("A", dpopMaxProof+1),
		seg(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": "not an object"}) + "." + claims + ".c2ln",
		seg(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": 1, "y": []int{}}}) + "." + claims + ".c2ln",
		seg(map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}) + "." + claims + ".c2ln",
		seg(map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": map[string]any{"kty": "OKP", "crv": "X25519", "x": "AAAA"}}) + "." + claims + ".c2ln",
		seg(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": map[string]any{"kty": "EC"}}) + "." + claims + ".",
		seg(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}}) + "." + claims + ".c2ln",
	}
	form := oauthForm("grant_type", "password", "username", "demo", "password", "demo")
	for i, proof := range junk {
		a := h.postForm("/oauth/token", form, "DPoP", proof)
		if a.status != 400 || a.str("error") != "invalid_dpop_proof" {
			t.Errorf("junk %d: %d %s", i, a.status, a.raw)
		}
	}
	// Two proofs at once.
	req, _ := http.NewRequest("POST", h.url+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p := newProver(t)
	req.Header.Add("DPoP", p.proof(t, "POST", h.url+"/oauth/token", proofOpts{}))
	req.Header.Add("DPoP", p.proof(t, "POST", h.url+"/oauth/token", proofOpts{}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("two DPoP headers: %d", resp.StatusCode)
	}
}
