package demoserver

import (
	"net/http"

	"tokenscope/internal/hostcheck"
)

// hostAllowed reports whether r's Host names this server: the address the connection came in
// on, localhost with that port, or the host of Options.Issuer (hostcheck.Names). With
// AllowRemote the operator has chosen to serve any name.
func (s *Server) hostAllowed(r *http.Request) bool {
	return s.opts.AllowRemote || hostcheck.HostAllowed(r, s.opts.Issuer)
}

// crossOrigin reports whether another site's page sent r (hostcheck.CrossOrigin).
func (s *Server) crossOrigin(r *http.Request) bool { return hostcheck.CrossOrigin(r, s.opts.Issuer) }
