package oidc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// NewVerifier returns a PKCE code verifier (RFC 7636 §4.1): 64 characters of the unreserved
// set, from 48 bytes of crypto/rand.
func NewVerifier() string { return randomString(48) }

// S256Challenge is the code_challenge for a verifier with method S256 (RFC 7636 §4.2).
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// randomString is n random bytes, base64url without padding.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on supported platforms (Go 1.24+ crashes instead)
	return base64.RawURLEncoding.EncodeToString(b)
}
