// Package redact is the one answer to "what is a secret": the session's secrets (every token it
// ever held, passwords, client secrets, *_env values, codes, proofs), matched in every encoding
// the engine knows, and the one masker that everything leaving the program goes through (events,
// the screen, the command line's output, --log-file, --har, --log-bodies). It also holds the one
// URL redactor and the token fingerprint the mask shows, so that a masked token can still be told
// from another and matched with the timeline.
package redact

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
)

// Kind says what a secret is: tokens are masked with their fingerprint, the rest without (a
// fingerprint of a short password is an oracle for guessing it).
type Kind uint8

const (
	Credential Kind = iota // a password, client secret, *_env or $processEnv value, CSRF value, code
	Access                 // an access token
	Refresh                // a refresh token
	IDToken                // an OpenID Connect ID token
	Proof                  // a DPoP proof
)

var kindNames = [...]string{Credential: "credential", Access: "access", Refresh: "refresh", IDToken: "id_token", Proof: "dpop"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "secret"
}

// token reports whether the mask of k shows a fingerprint.
func (k Kind) token() bool { return k != Credential }

// MinWhole is the length under which a secret is masked only where it stands as a whole value
// in a credential's place (a header value, a credential-named form, JSON or query value, a Basic
// credential): the demo password "demo" must not turn every e-mail address at demo.example, nor
// the demo's user name, into [redacted].
const MinWhole = 8

// maxTokens bounds the tokens kept: a long session refreshes thousands of times, and every token
// adds patterns to search. The oldest go first; credentials are few and always kept.
const maxTokens = 1024

type secret struct {
	value string
	kind  Kind
}

// Secrets is the set of a session's secrets. Adding is rare (a login, a refresh) and takes the
// lock; masking is frequent and reads an immutable snapshot without locking.
type Secrets struct {
	mu      sync.Mutex
	all     []secret
	seen    map[string]bool
	tokens  int
	version uint64 // bumps with every change
	snap    atomic.Pointer[table]
}

// New is an empty set.
func New() *Secrets { return &Secrets{seen: map[string]bool{}} }

// Of is a set holding values as credentials: for masking text with a few known secrets.
func Of(values ...string) *Secrets {
	s := New()
	s.Add(Credential, values...)
	return s
}

// Add records values as secrets of kind k; empty and known values are skipped. Safe on nil (it
// does nothing), so that a part built without a set still runs.
func (s *Secrets) Add(k Kind, values ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, v := range values {
		if v == "" || s.seen[v] {
			continue
		}
		s.seen[v], changed = true, true
		s.all = append(s.all, secret{v, k})
		if k.token() {
			s.tokens++
		}
	}
	for s.tokens > maxTokens {
		s.dropOldestToken()
	}
	if changed {
		s.version++
		s.snap.Store(&table{secrets: append([]secret(nil), s.all...), version: s.version})
	}
}

func (s *Secrets) dropOldestToken() {
	for i, x := range s.all {
		if x.kind.token() {
			delete(s.seen, x.value)
			s.all = append(s.all[:i:i], s.all[i+1:]...)
			s.tokens--
			return
		}
	}
}

// Len is how many secrets the set holds.
func (s *Secrets) Len() int {
	if t := s.table(); t != nil {
		return len(t.secrets)
	}
	return 0
}

// Version changes whenever the secrets do: a screen laid out with masked text lays out again.
func (s *Secrets) Version() uint64 {
	if t := s.table(); t != nil {
		return t.version
	}
	return 0
}

// Has reports whether v is one of the secrets.
func (s *Secrets) Has(v string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[v]
}

func (s *Secrets) table() *table {
	if s == nil {
		return nil
	}
	return s.snap.Load()
}

// table is one snapshot of the secrets and, built on first use, the patterns that find them.
type table struct {
	secrets []secret
	version uint64
	once    sync.Once
	m       *patterns
}

func (t *table) patterns() *patterns {
	t.once.Do(func() { t.m = buildPatterns(t.secrets) })
	return t.m
}

// forms are the encodings of a secret searched for literally, besides the escapes the matcher
// reads in any text (JSON, HTML, percent): base64, std and URL alphabets, padded and raw, as
// Basic credentials and X-Token style headers carry values.
func forms(v string) []string {
	out := []string{v}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if f := enc.EncodeToString([]byte(v)); f != v && !contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// Fingerprint names a token without revealing it: "fp:" and the first four bytes of its SHA-256
// in hex; "" for no token. The mask of a token carries it, and Fingerprint of that mask is the
// token's own, so a masked recording (tokenscope's HAR) read back still tells its tokens apart.
func Fingerprint(raw string) string {
	if raw == "" {
		return ""
	}
	if fp, ok := maskedFP(raw); ok {
		return fp
	}
	sum := sha256.Sum256([]byte(raw))
	return "fp:" + hex.EncodeToString(sum[:4])
}

// Masked is what a masked credential reads as.
const Masked = "[redacted]"

// maskPrefix starts the mask of a token, followed by its fingerprint and "]". It has no space
// so that it stays one word and a valid cookie value.
const maskPrefix = "[redacted:"

// mask is what replaces a secret of kind k.
func mask(value string, k Kind) string {
	if !k.token() {
		return Masked
	}
	return maskPrefix + Fingerprint(value) + "]"
}

// maskedFP reads the fingerprint out of a token's mask.
func maskedFP(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, maskPrefix+"fp:")
	if !ok || len(rest) != 9 || rest[8] != ']' {
		return "", false
	}
	if _, err := hex.DecodeString(rest[:8]); err != nil {
		return "", false
	}
	return "fp:" + rest[:8], true
}

// IsMasked reports whether s is a mask this package wrote.
func IsMasked(s string) bool {
	_, tok := maskedFP(s)
	return tok || s == Masked
}
