package observe

import (
	"fmt"
	"time"

	"tokenscope/session"
)

// maxTokens bounds the tokens the analyzer remembers, and maxFamilies the families: a proxy
// left running for days must not grow without end. The oldest are forgotten first.
const (
	maxTokens   = 1 << 16
	maxFamilies = 1 << 12
)

// tokenInfo is what the analyzer knows of one token. It keeps the fingerprint, never the token.
type tokenInfo struct {
	fp      string
	refresh bool
	fam     *family
	gen     int       // access tokens: the generation within the family (0: unknown)
	exp     time.Time // on the server's clock; zero when unknown
	life    time.Duration
	issued  time.Time // local time its answer arrived; zero when only seen presented

	// Refresh tokens.
	presented  int        // how many refresh calls presented it
	rotatedBy  *tokenInfo // the refresh token a rotation replaced it with
	rotatedAt  time.Time
	minted     *tokenInfo // the access token its latest successful refresh minted
	stampeded  bool       // a stampede finding names it already
	reusedOnce bool       // a rotated-token-reused finding names it already
	// rejected is the server's refusal of it, when a refresh presenting it was rejected.
	rejected      *rejection
	retriedNamed  bool // a rejected-token-retried finding names it already
	acceptedAgain bool // a server-accepted-reused-token finding names it already

	// Access tokens.
	expiredSent bool // an expired-token-sent finding names it already
	needless    bool // a refresh-without-need finding names it already
}

// fractionLeft is how much of its life the token has left at serverNow, in [0, 1]; -1 when its
// expiry is unknown.
func (t *tokenInfo) fractionLeft(serverNow time.Time) float64 {
	if t == nil || t.exp.IsZero() || t.life <= 0 {
		return -1
	}
	return min(max(float64(t.exp.Sub(serverNow))/float64(t.life), 0), 1)
}

// describe names an access token for a sentence: "fp:1a2b3c4d (gen #2)".
func (t *tokenInfo) describe() string {
	if t.gen > 0 {
		return fmt.Sprintf("%s (gen #%d)", t.fp, t.gen)
	}
	return t.fp
}

// family is a chain of tokens from one login: the rotated refresh tokens and the access tokens
// they minted. A token first seen without its login starts a family "joined mid-session".
type family struct {
	id      int
	joined  bool
	gen     int // generations issued
	access  *tokenInfo
	dead    bool       // a refresh of it was rejected: a login after that is no mistake
	end     *rejection // what ended it, when dead
	lastUse time.Time
	last401 time.Time // when a request carrying one of its access tokens was last answered 401

	// A transient refresh failure not yet followed by anything: a login or silence after it is
	// the logout-on-transient finding, another refresh or a request clears it.
	failAt      time.Time
	failWhy     string
	failRefresh uint64

	inflight int          // refresh calls in flight
	episode  *episode     // the current run of concurrent refresh calls
	stampede *stampedeRun // runs not yet reported, merged while they follow each other closely
}

func (f *family) name() string {
	if f == nil {
		return "no known family"
	}
	if f.joined {
		return fmt.Sprintf("family #%d (joined mid-session)", f.id)
	}
	return fmt.Sprintf("family #%d", f.id)
}

// newFamily starts a family; the oldest is forgotten past maxFamilies.
func (a *Analyzer) newFamily(joined bool) *family {
	a.famSeq++
	f := &family{id: a.famSeq, joined: joined}
	if len(a.fams) >= maxFamilies {
		a.fams = append(a.fams[:0:0], a.fams[len(a.fams)/2:]...)
	}
	a.fams = append(a.fams, f)
	return f
}

// registry maps fingerprints to what is known of the tokens, forgetting the oldest past max.
type registry struct {
	m     map[string]*tokenInfo
	order []string
	max   int
}

func newRegistry(max int) registry { return registry{m: map[string]*tokenInfo{}, max: max} }

func (g *registry) lookup(fp string) *tokenInfo { return g.m[fp] }

func (g *registry) add(t *tokenInfo) {
	if len(g.order) >= g.max {
		drop := g.order[:g.max/2]
		for _, k := range drop {
			delete(g.m, k)
		}
		g.order = append(g.order[:0:0], g.order[g.max/2:]...)
	}
	g.m[t.fp] = t
	g.order = append(g.order, t.fp)
}

// presentedToken returns what is known of a token a request presented, learning it (its exp,
// when it is a JWT) on first sight.
func (a *Analyzer) presentedToken(raw string, refresh bool, at time.Time) *tokenInfo {
	f := session.Fingerprint(raw)
	if t := a.tokens.lookup(f); t != nil {
		return t
	}
	st := session.ParseToken(raw, a.serverNow(at), 0)
	t := &tokenInfo{fp: f, refresh: refresh, exp: st.ExpiresAt}
	if !st.IssuedAt.IsZero() && st.HasExpiry() {
		t.life = st.ExpiresAt.Sub(st.IssuedAt)
	}
	a.tokens.add(t)
	return t
}

// issuedToken records a token an answer issued. Its life counts from the answer, not its iat
// (stock simplejwt copies the refresh token's iat into every access token it mints).
func (a *Analyzer) issuedToken(st session.Token, refresh bool, fam *family, at time.Time) *tokenInfo {
	t := a.tokens.lookup(st.Fingerprint())
	if t == nil {
		t = &tokenInfo{fp: st.Fingerprint(), refresh: refresh}
		a.tokens.add(t)
	}
	t.fam, t.issued, t.exp = fam, at, st.ExpiresAt
	if st.HasExpiry() {
		t.life = st.ExpiresAt.Sub(a.serverNow(at))
	}
	if !refresh {
		fam.gen++
		t.gen = fam.gen
		fam.access = t
	}
	return t
}

// counters are the summary's counts.
type counters struct {
	requests, unauthorized, retried, lost, refreshCalls, refreshRejected, reused int64
	logins, expiredSent                                                          int64
	peak                                                                         int
	findings                                                                     map[string]int
}

func newCounters() counters {
	c := counters{findings: map[string]int{}}
	for _, r := range Rules() {
		c.findings[r] = 0
	}
	return c
}

// TokenView is a snapshot of one observed token, for a display: fingerprints only.
type TokenView struct {
	Fingerprint string    `json:"token"`
	Refresh     bool      `json:"refresh,omitempty"`
	Family      int       `json:"family,omitempty"`
	Generation  int       `json:"generation,omitempty"`
	Exp         time.Time `json:"exp,omitzero"`
	Issued      time.Time `json:"issued,omitzero"`
	Presented   int       `json:"presented,omitempty"`
	RotatedTo   string    `json:"rotated_to,omitempty"`
}

// Tokens is a snapshot of the tokens the analyzer remembers, oldest first.
func (a *Analyzer) Tokens() []TokenView {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]TokenView, 0, len(a.tokens.order))
	for _, k := range a.tokens.order {
		t := a.tokens.m[k]
		v := TokenView{Fingerprint: t.fp, Refresh: t.refresh, Generation: t.gen, Exp: t.exp, Issued: t.issued,
			Presented: t.presented, RotatedTo: fp(t.rotatedBy)}
		if t.fam != nil {
			v.Family = t.fam.id
		}
		out = append(out, v)
	}
	return out
}
