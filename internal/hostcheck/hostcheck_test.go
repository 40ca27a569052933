package hostcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func request(local string, port int, host string, h map[string]string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = host
	for k, v := range h {
		r.Header.Set(k, v)
	}
	addr := &net.TCPAddr{IP: net.ParseIP(local), Port: port}
	return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
}

func TestHostAllowed(t *testing.T) {
	cases := []struct {
		local string
		port  int
		host  string
		extra []string
		want  bool
	}{
		{"127.0.0.1", 8000, "127.0.0.1:8000", nil, true},
		{"127.0.0.1", 8000, "localhost:8000", nil, true},
		{"127.0.0.1", 8000, "LocalHost.:8000", nil, true},
		{"127.0.0.1", 8000, "localhost:8001", nil, false},
		{"127.0.0.1", 8000, "rebind.attacker.example:8000", nil, false},
		{"127.0.0.1", 8000, "rebind.attacker.example", nil, false},
		{"127.0.0.1", 80, "localhost", nil, true},
		{"127.0.0.1", 80, "127.0.0.1", nil, true},
		{"::1", 9000, "[::1]:9000", nil, true},
		{"127.0.0.1", 8000, "demo.test:8443", []string{"https://demo.test:8443/realms/x"}, true},
		{"127.0.0.1", 8000, "demo.test", []string{"https://demo.test:8443/realms/x"}, false},
	}
	for _, c := range cases {
		if got := HostAllowed(request(c.local, c.port, c.host, nil), c.extra...); got != c.want {
			t.Errorf("listening on %s:%d, Host %q (extra %v): %v, want %v", c.local, c.port, c.host, c.extra, got, c.want)
		}
	}
}

func TestCrossOrigin(t *testing.T) {
	cases := []struct {
		h    map[string]string
		want bool
	}{
		{nil, false}, // curl, Go, the engine: no Origin, no Sec-Fetch-Site
		{map[string]string{"Origin": "http://127.0.0.1:8000"}, false},
		{map[string]string{"Origin": "http://localhost:8000", "Sec-Fetch-Site": "same-origin"}, false},
		{map[string]string{"Origin": "http://evil.example"}, true},
		{map[string]string{"Origin": "null"}, true},
		{map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{map[string]string{"Sec-Fetch-Site": "same-site"}, true},
	}
	for _, c := range cases {
		if got := CrossOrigin(request("127.0.0.1", 8000, "127.0.0.1:8000", c.h)); got != c.want {
			t.Errorf("%v: %v, want %v", c.h, got, c.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true,
		"0.0.0.0": false, "": false, "example.com": false, "10.0.0.1": false, "localhost.example.com": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v", host, got)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:8000": true, "localhost:0": true, "[::1]:9": true, ":8000": false, "0.0.0.0:1": false} {
		if got, err := IsLoopbackAddr(addr); got != want || err != nil {
			t.Errorf("IsLoopbackAddr(%q) = %v, %v", addr, got, err)
		}
	}
	if _, err := IsLoopbackAddr("nonsense"); err == nil {
		t.Error("IsLoopbackAddr(nonsense): no error")
	}
}
