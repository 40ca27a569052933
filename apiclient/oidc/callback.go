package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Callback is the loopback redirect listener of a native app (RFC 8252 §7.3): an HTTP server on
// the redirect URI's host and port that serves only its path and hands the first answer with a
// code or an error to Wait.
type Callback struct {
	RedirectURI string // as listened on: a port 0 in the asked URI is replaced by the real one
	srv         *http.Server
	path        string
	got         chan answer
	closing     chan struct{} // closed by Close: nobody will judge an answer any more
	closeOnce   sync.Once
}

// answer is one request to the callback path, handed to Wait, which judges it: the page the
// browser (or whoever sent it) sees says what Wait decided.
type answer struct {
	q       url.Values
	verdict chan verdict
}

type verdict struct {
	status int
	title  string
}

// Listen starts the loopback listener for redirectURI (DefaultRedirectURI when empty). The
// URI must be http on 127.0.0.1, [::1] or localhost (which listens on 127.0.0.1). Close it
// when done.
func Listen(redirectURI string) (*Callback, error) {
	if redirectURI == "" {
		redirectURI = DefaultRedirectURI
	}
	u, err := url.Parse(redirectURI)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("oidc: redirect URI %q: want http://127.0.0.1:PORT/PATH", redirectURI)
	}
	host := u.Hostname()
	switch host {
	case "127.0.0.1", "::1":
	case "localhost":
		host = "127.0.0.1"
	default:
		return nil, fmt.Errorf("oidc: redirect URI %q is not a loopback address: tokenscope can only listen on 127.0.0.1, [::1] or localhost", redirectURI)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("oidc: cannot listen on %s for the redirect (is the port busy?): pick another redirect URI, registered at the provider: %w", net.JoinHostPort(host, port), err)
	}
	if port == "0" {
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	cb := &Callback{RedirectURI: u.String(), path: path, got: make(chan answer), closing: make(chan struct{})}
	cb.srv = &http.Server{Handler: http.HandlerFunc(cb.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = cb.srv.Serve(ln) }()
	if u.Hostname() == "localhost" {
		// A browser may resolve localhost to ::1 first (RFC 8252 §7.3 says to listen on both);
		// where IPv6 is off, 127.0.0.1 alone serves.
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", port)); err == nil {
			go func() { _ = cb.srv.Serve(ln6) }()
		}
	}
	return cb, nil
}

// Close stops the listener once the page in flight has been answered: the browser that brought
// the code back gets its "you can close this window" page, not a dropped connection (Close
// right after Wait returned raced the handler still writing it).
func (cb *Callback) Close() error {
	cb.closeOnce.Do(func() { close(cb.closing) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := cb.srv.Shutdown(ctx); err != nil {
		return cb.srv.Close()
	}
	return nil
}

var donePage = template.Must(template.New("done").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tokenscope</title></head>
<body><h1>{{.}}</h1><p>You can close this window and return to tokenscope.</p></body></html>
`))

func (cb *Callback) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != cb.path || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if !q.Has("code") && !q.Has("error") {
		http.Error(w, "no code or error in this request", http.StatusBadRequest)
		return
	}
	a := answer{q: q, verdict: make(chan verdict, 1)}
	v := verdict{http.StatusConflict, "tokenscope is not waiting for a login answer"}
	select {
	case cb.got <- a:
		select {
		case v = <-a.verdict:
		case <-r.Context().Done():
			return
		}
	case <-r.Context().Done():
		return
	case <-cb.closing:
	case <-time.After(5 * time.Second):
		// No Wait takes it: the login already has its answer, or has not started.
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(v.status)
	_ = donePage.Execute(w, v.title)
}

// Wait returns the authorization code the browser brings back for r, once the answer's state
// equals r.State and its iss (RFC 9207) is the provider's issuer; iss must be present when the
// provider advertises authorization_response_iss_parameter_supported. An error answer comes
// back as a typed *Error (Status 0).
func (cb *Callback) Wait(ctx context.Context, r *AuthCodeRequest) (string, error) {
	for {
		var a answer
		select {
		case a = <-cb.got:
		case <-ctx.Done():
			return "", fmt.Errorf("oidc: waiting for the browser to return to %s: %w", cb.RedirectURI, ctx.Err())
		}
		if subtle.ConstantTimeCompare([]byte(a.q.Get("state")), []byte(r.State)) != 1 {
			// Anyone can send a request to a loopback port (a web page's <img>, a local
			// process): an answer without this login's state is not the provider's, so it is
			// turned away and the login keeps waiting for the real one (RFC 6749 §10.12).
			a.verdict <- verdict{http.StatusBadRequest, "Refused: this answer does not carry the state of tokenscope's login request"}
			continue
		}
		code, err := judge(a.q, r)
		title := "Login answer received"
		if err != nil {
			title = "Login failed: " + err.Error()
		}
		a.verdict <- verdict{http.StatusOK, title}
		return code, err
	}
}

// judge reads an answer that carries the right state: iss (RFC 9207) must be the provider's
// issuer, and present when the provider advertises the parameter; an error answer comes back
// as a typed *Error (Status 0).
func judge(q url.Values, r *AuthCodeRequest) (string, error) {
	p := r.Client.Provider
	if iss, sent := q["iss"]; sent || p.AuthorizationResponseIssParameterSupported {
		if !sent || len(iss) != 1 || iss[0] != p.Issuer {
			return "", fmt.Errorf("oidc: the redirect's iss %q is not the provider's issuer %q (RFC 9207): a mix-up, refused", strings.Join(iss, ","), p.Issuer)
		}
	}
	if code := q.Get("error"); code != "" {
		return "", &Error{Code: code, Description: q.Get("error_description"), URI: q.Get("error_uri")}
	}
	code := q.Get("code")
	if code == "" {
		return "", errors.New("oidc: the redirect carried an empty code")
	}
	return code, nil
}
