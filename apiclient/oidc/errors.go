package oidc

import (
	"fmt"
	"slices"
	"strings"

	"tokenscope/apiclient/profile"
)

// Error is an OAuth 2.0 error answer: from the token, device, PAR or revocation endpoint
// (RFC 6749 §5.2, RFC 8628 §3.5) or on the authorization redirect (RFC 6749 §4.1.2.1).
type Error struct {
	Code        string // "invalid_client", "authorization_pending", ...
	Description string // error_description, as sent (untrusted text)
	URI         string // error_uri
	Status      int    // HTTP status; 0 when it came back on the redirect
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("oidc: ")
	b.WriteString(e.Code)
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	return b.String()
}

// Hint says what most likely fixes the error, for the user, in the protocol's words (the
// command line is cmd's to name); empty when there is nothing to add.
func (e *Error) Hint() string {
	switch e.Code {
	case "invalid_client":
		return "the provider does not accept this client: check the client id, and give a confidential client its client secret; a public client must send none"
	case "unauthorized_client":
		return "this client may not use this flow: enable the grant type (authorization code, device, client credentials) for the client at the provider"
	case "invalid_redirect_uri", "redirect_uri_mismatch":
		return "register the redirect URI at the provider exactly, e.g. http://127.0.0.1/callback (127.0.0.1, localhost and [::1] are different registrations, the path must match; RFC 8252 lets the port vary), or use the registered one as the redirect URI"
	case "invalid_scope":
		return "the provider refused a scope: ask only for scopes the client may have; client credentials take no openid or offline_access"
	case "access_denied":
		return "the user (or a provider policy) denied the request: log in again and approve"
	case "invalid_grant":
		return "the code, device code or refresh token is invalid, expired, used or was issued to another client or redirect URI: start the login again"
	case "slow_down":
		return "polled too fast: wait 5 s longer between polls from now on"
	case "authorization_pending":
		return "the user has not finished yet: keep polling at the interval"
	case "expired_token":
		return "the device code expired before the user approved: start the device login again"
	case "invalid_dpop_proof", "use_dpop_nonce":
		return "the provider wants sender-constrained tokens: log in with DPoP (RFC 9449)"
	case "invalid_request":
		return "the provider rejected the request's shape; the description names the parameter"
	}
	return ""
}

// NoRefreshHint explains a successful answer without a refresh token when offline_access was
// asked for (OIDC Core §11; LIBRARIES.md "Refresh tokens may need consent").
const NoRefreshHint = "no refresh token issued: ask for offline_access; some providers also want prompt=consent; Google wants access_type=offline"

// NotGrantedRefreshHint starts the hint for an answer without a refresh token whose scope
// (RFC 6749 §5.1) shows that offline_access was asked for and not granted: asking again the
// same way will not help (Ory Hydra answers so when the consent leaves offline_access out).
const NotGrantedRefreshHint = "no refresh token issued: offline_access was asked for but not granted"

// RefreshHint explains why t holds no refresh token when scope asked for offline_access:
// NotGrantedRefreshHint when t's granted scope lacks it, else NoRefreshHint. "" when t has a
// refresh token or scope did not ask for one.
func RefreshHint(scope string, t profile.Answer) string {
	if !t.Refresh.Empty() || !hasScope(scope, "offline_access") {
		return ""
	}
	if t.Scope != "" && !hasScope(t.Scope, "offline_access") {
		return fmt.Sprintf("%s (granted scope %.200q): the user left it out at consent, or the client may not have it at the provider", NotGrantedRefreshHint, t.Scope)
	}
	return NoRefreshHint
}

func hasScope(scope, want string) bool { return slices.Contains(strings.Fields(scope), want) }
