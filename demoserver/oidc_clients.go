package demoserver

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"tokenscope/internal/hostcheck"
)

// Grant types, as RFC 6749 and RFC 8628 spell them.
const (
	grantAuthCode     = "authorization_code"
	grantRefresh      = "refresh_token"
	grantClientCreds  = "client_credentials"
	grantDeviceCode   = "urn:ietf:params:oauth:grant-type:device_code"
	grantPassword     = "password"
	scopeOpenID       = "openid"
	scopeOffline      = "offline_access"
	supportedScopeStr = "openid profile email offline_access api:read"
)

var supportedScopes = strings.Fields(supportedScopeStr)

// client is one registered OAuth client.
type client struct {
	id     string
	secret string // empty: public client (token_endpoint_auth_method none)
	grants []string
}

func (c *client) allows(grant string) bool { return slices.Contains(c.grants, grant) }

// clients returns the registry: the public native client and the confidential service client.
func (s *Server) client(id string) *client {
	switch id {
	case s.opts.ClientID:
		return &client{id: id, grants: []string{grantAuthCode, grantDeviceCode, grantRefresh, grantPassword}}
	case s.opts.ConfidentialClientID:
		return &client{id: id, secret: s.opts.ConfidentialSecret, grants: []string{grantClientCreds}}
	}
	return nil
}

// authenticateClient applies RFC 6749 §2.3 to a parsed form: HTTP Basic (client_secret_basic)
// or client_id/client_secret in the body (client_secret_post, or none for the public client).
// It answers the failure itself and returns nil then.
// clientForm reads an endpoint's form and authenticates the client that sent it; a nil client
// means the answer (an error) has been written.
func (s *Server) clientForm(w http.ResponseWriter, r *http.Request) (url.Values, *client) {
	form, ok := s.oauthForm(w, r)
	if !ok {
		return nil, nil
	}
	return form, s.authenticateClient(w, r, form)
}

func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) *client {
	basicID, basicSecret, hasBasic := r.BasicAuth()
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if hasBasic {
		if (id != "" && id != basicID) || secret != "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method, not both")
			return nil
		}
		// RFC 6749 §2.3.1: both parts are form-encoded before they go into the header.
		id, secret = formDecode(basicID), formDecode(basicSecret)
	}
	c := s.client(id)
	var desc string
	switch {
	case id == "":
		desc = fmt.Sprintf("client authentication required: send client_id=%s", s.opts.ClientID)
	case c == nil:
		desc = fmt.Sprintf("unknown client %q: the demo knows the public client %q and the confidential client %q", clip(id, 64), s.opts.ClientID, s.opts.ConfidentialClientID)
	case c.secret == "" && secret != "":
		desc = fmt.Sprintf("client %q is public: send no secret", id)
	case c.secret != "" && subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1:
		desc = fmt.Sprintf("client %q: wrong or missing client secret", id)
	default:
		return c
	}
	if hasBasic {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
	}
	oauthError(w, http.StatusUnauthorized, "invalid_client", desc)
	return nil
}

func formDecode(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// loopbackRedirect reports whether uri is a redirect the public native client may use: http on
// a loopback host (127.0.0.1, localhost or [::1]) on any port (RFC 8252 §7.3), any path, no
// fragment and no user info.
func loopbackRedirect(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	if !hostcheck.IsLoopbackHost(u.Hostname()) {
		return false
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return true
}

// checkScope validates a requested scope against the supported ones and returns it
// normalised (deduplicated, in request order).
func checkScope(raw string) (string, error) {
	var out []string
	for _, sc := range strings.Fields(raw) {
		if !slices.Contains(supportedScopes, sc) {
			return "", fmt.Errorf("scope %q is not supported (supported: %s)", clip(sc, 64), supportedScopeStr)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " "), nil
}

func hasScope(scope, want string) bool { return slices.Contains(strings.Fields(scope), want) }

var hostRE = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

// issuer is the OpenID issuer the request sees: Options.Issuer, else the scheme and Host the
// client used (loopback: the URL it reached the server at), else the listening URL.
func (s *Server) issuer(r *http.Request) string {
	if s.opts.Issuer != "" {
		return s.opts.Issuer
	}
	if hostRE.MatchString(r.Host) {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + r.Host
	}
	if s.url != "" {
		return s.url
	}
	return "http://" + net.JoinHostPort("127.0.0.1", "80")
}
