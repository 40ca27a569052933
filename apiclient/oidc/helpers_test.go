package oidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tokenscope/demoserver"
)

// demo serves a fresh demo server on 127.0.0.1 and returns it with its URL.
func demo(t *testing.T, opts demoserver.Options) (*demoserver.Server, string) {
	t.Helper()
	s, err := demoserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// hc is the client the tests hand in, as the engine would hand in one built on its transport.
func hc() *http.Client { return &http.Client{Timeout: 10 * time.Second} }

// discovered returns a Client for id/secret at a fresh demo server.
func discovered(t *testing.T, opts demoserver.Options, id, secret string) (*Client, *demoserver.Server, string) {
	t.Helper()
	s, base := demo(t, opts)
	p, err := Discover(ctxT(t), hc(), base)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{HTTP: hc(), Provider: p, ID: id, Secret: secret}, s, base
}
