// Package hostcheck is the one guard of tokenscope's loopback servers (the demo server, observe's
// proxy) against web pages: DNS rebinding shows as a Host header the server does not listen as,
// and a page's cross-site request as a foreign Origin. A server that answers either lets any web
// page read or drive it.
package hostcheck

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Names lists the Host values a server answers on the connection r came in on: the address the
// connection was accepted at (IP and port), localhost with that port (and both without the port
// when it is 80), and the hosts of the extra URLs or host:port names given (an --issuer, say).
func Names(r *http.Request, extra ...string) []string {
	var names []string
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ip, port, err := net.SplitHostPort(local.String()); err == nil {
			names = append(names, strings.ToLower(net.JoinHostPort(ip, port)), net.JoinHostPort("localhost", port))
			if port == "80" {
				names = append(names, strings.ToLower(ip), "localhost", "["+strings.ToLower(ip)+"]")
			}
		}
	}
	for _, e := range extra {
		if u, err := url.Parse(e); err == nil && u.Host != "" {
			names = append(names, strings.ToLower(u.Host))
		} else if e != "" && !strings.Contains(e, "/") {
			names = append(names, strings.ToLower(e))
		}
	}
	return names
}

// HostAllowed reports whether r's Host is one of Names(r, extra...).
func HostAllowed(r *http.Request, extra ...string) bool {
	return nameIn(r.Host, Names(r, extra...))
}

// CrossOrigin reports whether a browser sent r from another site's page: Sec-Fetch-Site says so,
// or Origin is not one of Names(r, extra...) ("null" included: a sandboxed frame, a file: page).
// Clients that are not browsers send neither header.
func CrossOrigin(r *http.Request, extra ...string) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return true
	}
	return !nameIn(u.Host, Names(r, extra...))
}

func nameIn(host string, names []string) bool {
	host = strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		host = net.JoinHostPort(strings.TrimSuffix(h, "."), port)
	} else {
		host = strings.TrimSuffix(host, ".")
	}
	for _, n := range names {
		if host == n {
			return true
		}
	}
	return false
}

// IsLoopbackHost reports whether host (a name or an IP address, without a port; brackets and a
// trailing dot are fine) names this machine: localhost, or a loopback address (127.0.0.0/8,
// ::1). The one answer to "is this loopback" for listen addresses, redirect URIs, endpoints that
// may be plain http, and the clients a server trusts.
func IsLoopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// IsLoopbackAddr reports whether addr (host:port, a listen or remote address) is on loopback. An
// empty host (":8000") listens on every interface: not loopback.
func IsLoopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	return IsLoopbackHost(host), nil
}

// Origin is rawURL's origin as RFC 6454 has it: scheme://host:port, the scheme and host in lower
// case, the host without a trailing dot and the scheme's default port filled in (https://API.test
// and https://api.test:443 are one origin, http://api.test another); "" when rawURL is not an
// absolute http(s) URL. It is what a credential is bound to: the one answer to "same place?" for
// redirects, full URLs on the command line, and where the attacher puts a session's headers.
func Origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return OriginOf(u)
}

// OriginOf is Origin for a parsed URL.
func OriginOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	if u.Host == "" || (scheme != "http" && scheme != "https") {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), port)
}
