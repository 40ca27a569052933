package observe

// The forward proxy (observe --forward): a client with HTTP_PROXY and HTTPS_PROXY pointing at
// observe sends plain http requests in absolute form (GET http://api.example/x), https ones
// through CONNECT tunnels, which observe opens with a certificate its own CA minted for the
// tunnel's host, and some (axios) https URLs in absolute form without a tunnel. Each is read as
// the reverse proxy reads its requests, and sent on to the origin it names, verified as every
// outgoing call is.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"tokenscope/internal/hostcheck"
)

// forwarder is the forward proxy's part of a Proxy: its CA, its one reverse proxy (which sends
// each request to the origin in its context), and the tunnels it serves.
type forwarder struct {
	p      *Proxy
	ca     *CA
	rp     *httputil.ReverseProxy
	listen string

	mu      sync.Mutex
	tunnels map[*http.Server]struct{}
	closed  bool
}

type originKey struct{}

func newForwarder(p *Proxy, ca *CA, tr http.RoundTripper, forwarded bool, listen string) *forwarder {
	f := &forwarder{p: p, ca: ca, listen: listen, tunnels: map[*http.Server]struct{}{}}
	f.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(originKey{}).(*url.URL))
			pr.Out.Host = pr.In.Host // the name the client asked for, as it wrote it
			keepForwarded(pr)
			if forwarded {
				pr.SetXForwarded()
			}
		},
		Transport:      tr,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       discardLog,
	}
	return f
}

// serve takes a CONNECT or an absolute-form request.
func (f *forwarder) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		f.connect(w, r)
		return
	}
	if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
		http.Error(w, "tokenscope observe: a forward proxy for http and https URLs only", http.StatusBadRequest)
		return
	}
	f.send(w, r, &url.URL{Scheme: r.URL.Scheme, Host: r.URL.Host})
}

// send passes r on to origin, unless origin is this proxy itself (a loop).
func (f *forwarder) send(w http.ResponseWriter, r *http.Request, origin *url.URL) {
	if f.isSelf(origin.Host) {
		http.Error(w, "tokenscope observe: a request to the proxy itself through the proxy (a loop)", http.StatusLoopDetected)
		return
	}
	ctx := context.WithValue(r.Context(), originKey{}, origin)
	f.p.pass(w, r.WithContext(ctx), origin.Scheme+"://"+origin.Host, f.rp)
}

// isSelf: host is the address the proxy listens on.
func (f *forwarder) isSelf(host string) bool {
	if f.listen == "" {
		return false
	}
	_, port, _ := net.SplitHostPort(f.listen)
	h, p, err := net.SplitHostPort(host)
	if err != nil || p != port {
		return false
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return strings.EqualFold(host, f.listen) || hostcheck.IsLoopbackHost(h) || (ip != nil && ip.IsUnspecified())
}

// connect answers a CONNECT and serves the tunnel it opens.
func (f *forwarder) connect(w http.ResponseWriter, r *http.Request) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || host == "" || port == "" {
		http.Error(w, "tokenscope observe: CONNECT wants host:port", http.StatusBadRequest)
		return
	}
	if f.isSelf(r.Host) {
		http.Error(w, "tokenscope observe: a tunnel to the proxy itself (a loop)", http.StatusLoopDetected)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "tokenscope observe: this connection cannot be tunnelled", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		conn.Close()
		return
	}
	go f.tunnel(&bufferedConn{Conn: conn, r: brw.Reader}, brw.Reader, r.Host)
}

// tunnel serves the requests sent through one CONNECT tunnel to authority (host:port): over
// TLS with a leaf certificate for the host when the client starts a handshake, as plain HTTP
// otherwise (a ws:// or http:// URL tunnelled all the same).
func (f *forwarder) tunnel(conn net.Conn, br *bufio.Reader, authority string) {
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	first, err := br.Peek(1)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		conn.Close()
		return
	}
	host, port, _ := net.SplitHostPort(authority)
	origin := &url.URL{Scheme: "http", Host: authority}
	if first[0] == 0x16 { // a TLS handshake record
		origin.Scheme = "https"
		if port == "443" {
			origin.Host = host
		}
		conn = tls.Server(conn, &tls.Config{
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"},
			GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				if hello.ServerName != "" {
					return f.ca.Leaf(hello.ServerName)
				}
				return f.ca.Leaf(host) // no SNI: an IP literal
			},
		})
	} else if port == "80" {
		origin.Host = host
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.send(w, r, origin)
		}),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          discardLog,
	}
	if !f.track(srv) {
		conn.Close()
		return
	}
	defer f.untrack(srv)
	_ = srv.Serve(newOneConnListener(conn))
}

func (f *forwarder) track(srv *http.Server) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.tunnels[srv] = struct{}{}
	return true
}

func (f *forwarder) untrack(srv *http.Server) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tunnels, srv)
}

// close ends every tunnel: hijacked connections are no business of the listener's server.
func (f *forwarder) close() {
	f.mu.Lock()
	f.closed = true
	srvs := make([]*http.Server, 0, len(f.tunnels))
	for s := range f.tunnels {
		srvs = append(srvs, s)
	}
	f.mu.Unlock()
	for _, s := range srvs {
		_ = s.Close()
	}
}

// bufferedConn reads what the hijacked connection's reader holds first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// oneConnListener hands out one connection, then waits for it to close: http.Server serves a
// single tunnel through it.
type oneConnListener struct {
	conn net.Conn
	once sync.Once
	done chan struct{}
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{done: make(chan struct{})}
	l.conn = &closeNotifyConn{Conn: c, done: l.done}
	return l
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.conn })
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	return l.conn.Close()
}

func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }

// closeNotifyConn closes done when it is closed (once).
type closeNotifyConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func (c *closeNotifyConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.done) })
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
