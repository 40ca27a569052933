// Package oidc is the client side of the identity-provider flows that tokenscope logs in with:
// discovery (OpenID Connect Discovery, RFC 8414), client authentication (RFC 6749 §2.3), PKCE
// (RFC 7636), the authorization code flow with a loopback redirect (RFC 8252), pushed
// authorization requests (RFC 9126) and the iss response parameter (RFC 9207), the device flow
// (RFC 8628), client credentials (RFC 6749 §4.4), token and error responses (RFC 6749 §5) and
// the ID token checks of OIDC Core §3.1.3.7.
//
// The engine in apiclient drives it. This package never builds a transport: every call goes
// through the *http.Client its caller hands in, so TLS settings, proxies and the engine's
// observation of the wire apply to identity-provider traffic too. It opens no browser either;
// the caller shows (and may open) the URL it returns.
package oidc
