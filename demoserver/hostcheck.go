package demoserver

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// A web page can reach a loopback server through DNS rebinding (its own name made to resolve to
// 127.0.0.1) or simply by posting to it. The first shows as a foreign Host header, the second
// as a foreign Origin; the server answers neither.

// hostAllowed reports whether r's Host names this server: the address the connection came in
// on (IP and port), localhost with that port, or the host of Options.Issuer. With AllowRemote
// the operator has chosen to serve any name.
func (s *Server) hostAllowed(r *http.Request) bool {
	if s.opts.AllowRemote {
		return true
	}
	host := strings.ToLower(strings.TrimSuffix(r.Host, "."))
	for _, ok := range s.hostNames(r) {
		if host == ok {
			return true
		}
	}
	return false
}

// hostNames lists the Host values this server answers on the connection r came in on.
func (s *Server) hostNames(r *http.Request) []string {
	var names []string
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ip, port, err := net.SplitHostPort(local.String()); err == nil {
			names = append(names, net.JoinHostPort(ip, port), net.JoinHostPort("localhost", port))
			if port == "80" {
				names = append(names, ip, "localhost", "["+ip+"]")
			}
		}
	}
	if s.opts.Issuer != "" {
		if u, err := url.Parse(s.opts.Issuer); err == nil && u.Host != "" {
			names = append(names, strings.ToLower(u.Host))
		}
	}
	return names
}

// crossOrigin reports whether a browser sent r from another site's page: its Origin is not
// this server's, or Sec-Fetch-Site says so. Clients that are not browsers send neither.
func (s *Server) crossOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return true // "null" (a sandboxed frame, a file: page) and the like
	}
	host := strings.ToLower(u.Host)
	for _, ok := range s.hostNames(r) {
		if host == ok {
			return false
		}
	}
	return true
}
