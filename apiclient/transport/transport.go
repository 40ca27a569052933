// Package transport is the one constructor of the HTTP transport every outgoing call of
// tokenscope takes (the engine's requests, logins and refreshes, key-set fetches, observe's
// upstream, audit's experiments), so that --ca-cert and --insecure reach them all.
package transport

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"tokenscope/internal/cappedfile"
)

// TLS says how outgoing connections check the server's certificate.
type TLS struct {
	CACertFile string // a PEM file of CA certificates trusted besides the system's
	Insecure   bool   // skip verification altogether (the user asked by name; the TUI says so in red)
}

// New builds the transport for every outgoing call: the engine's requests, logins and
// refreshes, and key-set fetches, with or without an engine. There is one constructor so
// that --ca-cert and --insecure reach every call. Its settings are resty's defaults (more idle
// connections per host than http.DefaultTransport's two, which a burst would churn through).
func New(o TLS) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		MaxIdleConnsPerHost:   runtime.GOMAXPROCS(0) + 1,
	}
	if o.CACertFile == "" && !o.Insecure {
		return tr, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CACertFile != "" {
		pem, err := cappedfile.Read(o.CACertFile, cappedfile.MaxConfigBytes)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in it", o.CACertFile)
		}
		tc.RootCAs = pool
	}
	tc.InsecureSkipVerify = o.Insecure
	tr.TLSClientConfig = tc
	return tr, nil
}
