package apiclient

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/hostcheck"
	"tokenscope/session"
)

// originWorld is one TLS server and one plain server, both on 127.0.0.1:0, reached under the
// host name api.example.com (which httptest's certificate covers) through a dialer that maps
// ports: 443 and 8443 to the TLS server, 80 and 8080 to the plain one. So a redirect from
// https://api.example.com/ to http://api.example.com/ is what the issue describes: the same name,
// the implicit port going from 443 to 80, the second hop in cleartext to another server.
type originWorld struct {
	tls, plain *httptest.Server
	access     string
	mu         sync.Mutex
	landed     map[string][]http.Header // "tls /landing" → the headers of each request
}

func newOriginWorld(t *testing.T, p profile.Profile) *originWorld {
	t.Helper()
	w := &originWorld{access: secRand("AT-"), landed: map[string][]http.Header{}}
	login := map[string]string{
		"bearer-json":   fmt.Sprintf(`{"accessToken":%q,"refreshToken":%q}`, w.access, secRand("RT-")),
		"element-admin": fmt.Sprintf(`{"code":20000,"data":{"token":%q,"refreshToken":%q}}`, w.access, secRand("RT-")),
	}[p.Name]
	handler := func(who string) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == p.Login.Path:
				edgeWriteJSON(rw, http.StatusOK, login)
			case r.URL.Path == "/go":
				// The chain of hops comes in the query: the first is where this hop sends.
				hops := r.URL.Query()["to"]
				next := hops[0]
				if len(hops) > 1 {
					u, _ := url.Parse(next)
					u.RawQuery = url.Values{"to": hops[1:]}.Encode()
					next = u.String()
				}
				http.Redirect(rw, r, next, http.StatusFound)
			default:
				w.mu.Lock()
				w.landed[who+" "+r.URL.Path] = append(w.landed[who+" "+r.URL.Path], r.Header.Clone())
				w.mu.Unlock()
				edgeWriteJSON(rw, http.StatusOK, `{"landed":"`+who+`"}`)
			}
		})
	}
	w.tls = httptest.NewUnstartedServer(handler("tls"))
	// Connections the engine still holds when the test ends make handshake noise on stderr.
	w.tls.Config.ErrorLog = log.New(io.Discard, "", 0)
	w.tls.StartTLS()
	t.Cleanup(w.tls.Close)
	w.plain = httptest.NewServer(handler("plain"))
	t.Cleanup(w.plain.Close)
	return w
}

// transport trusts the TLS server's certificate and dials api.example.com's ports to the two
// servers; any other address is dialled as it is.
func (w *originWorld) transport() *http.Transport {
	tr := w.tls.Client().Transport.(*http.Transport).Clone()
	ports := map[string]string{
		"443": w.tls.Listener.Addr().String(), "8443": w.tls.Listener.Addr().String(),
		"80": w.plain.Listener.Addr().String(), "8080": w.plain.Listener.Addr().String(),
	}
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && strings.EqualFold(host, "api.example.com") {
			addr = ports[port]
		}
		return d.DialContext(ctx, network, addr)
	}
	return tr
}

func (w *originWorld) got(k string) []http.Header {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]http.Header(nil), w.landed[k]...)
}

// TestTrustRedirectAcrossOrigins: whatever server a redirect leads to, the access token (the
// profile's header, Authorization or X-Token), a hand-set Authorization and cookies reach it
// only when it is the origin the request started at: same scheme, same host in any letter case,
// same port with the scheme's default filled in. Eight requests at once per case.
func TestTrustRedirectAcrossOrigins(t *testing.T) {
	const base = "https://api.example.com"
	cases := []struct {
		name    string
		base    string // the engine's target; "" for base; "real" for the TLS server's own 127.0.0.1 URL
		hops    []string
		landing string // who sees the last hop: "tls /landing" or "plain /landing"
		keep    bool   // the last hop is the first request's origin: the token goes on
	}{
		{"https to http, same name, 443 to 80", "", []string{"http://api.example.com/landing"}, "plain /landing", false},
		{"https to http, same name, other port", "", []string{"http://api.example.com:8080/landing"}, "plain /landing", false},
		{"https to http, same address, other port", "real", []string{"PLAIN/landing"}, "plain /landing", false},
		{"https to https, same name, other port", "", []string{"https://api.example.com:8443/landing"}, "tls /landing", false},
		{"http to https, same name", "http://api.example.com", []string{"https://api.example.com/landing"}, "tls /landing", false},
		{"https there and back through http", "", []string{"http://api.example.com/go", "https://api.example.com/landing"}, "tls /landing", false},
		{"same origin, relative", "", []string{"/landing"}, "tls /landing", true},
		{"same origin, explicit :443", "", []string{"https://api.example.com:443/landing"}, "tls /landing", true},
		{"same origin, host in capitals", "", []string{"https://API.Example.COM/landing"}, "tls /landing", true},
		{"same origin, http explicit :80", "http://api.example.com", []string{"http://api.example.com:80/landing"}, "plain /landing", true},
	}
	for _, prof := range []string{"bearer-json", "element-admin"} {
		for _, tc := range cases {
			t.Run(prof+"/"+tc.name, func(t *testing.T) {
				p := secProfile(t, prof)
				w := newOriginWorld(t, p)
				target := base
				switch tc.base {
				case "":
				case "real":
					target = w.tls.URL
				default:
					target = tc.base
				}
				hops := make([]string, len(tc.hops))
				for i, h := range tc.hops {
					hops[i] = strings.Replace(h, "PLAIN", w.plain.URL, 1)
				}
				cfg := secFastConfig(target, p)
				cfg.Transport = w.transport()
				e := secEngine(t, cfg)
				defer edgeDump(t, e)
				if _, err := e.Login(context.Background()); err != nil {
					t.Fatal(err)
				}
				const n = 8
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						h := http.Header{}
						h.Set("Cookie", "session=c00k1e")
						res := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/go?" + url.Values{"to": hops}.Encode(), Header: h})
						if res.Outcome != OK {
							t.Errorf("outcome %v status %d (%s)", res.Outcome, res.Status, res.Reason)
						}
					})
				}
				wg.Wait()
				landed := w.got(tc.landing)
				if len(landed) != n {
					t.Fatalf("%s reached %d times, want %d", tc.landing, len(landed), n)
				}
				want := profile.WithScheme(p.Auth.Scheme, w.access)
				for _, h := range landed {
					got := h.Get(p.Auth.Header)
					switch {
					case tc.keep && got != want:
						t.Errorf("%s (same origin) got %s %q, want %q", tc.landing, p.Auth.Header, got, want)
					case !tc.keep:
						for _, k := range []string{"Authorization", "X-Token", p.Auth.Header, "Cookie"} {
							if v := h.Get(k); v != "" {
								t.Errorf("%s (another origin) got %s: %q", tc.landing, k, v)
							}
						}
						for k, vs := range h {
							if strings.Contains(strings.Join(vs, " "), w.access) {
								t.Errorf("%s (another origin) got the access token in %s", tc.landing, k)
							}
						}
					}
				}
			})
		}
	}
}

// TestTrustOriginOf: the origin a credential is bound to, with default ports filled in.
func TestTrustOriginOf(t *testing.T) {
	same := [][2]string{
		{"https://api.test/x", "https://api.test:443/y"},
		{"https://api.test/x", "HTTPS://API.TEST/y"},
		{"http://api.test/x", "http://api.test:80/y"},
		{"https://api.test./x", "https://api.test/y"},
		{"https://[::1]/x", "https://[::1]:443/y"},
	}
	differ := [][2]string{
		{"https://api.test/x", "http://api.test/steal"},
		{"https://api.test/x", "http://api.test:443/steal"},
		{"https://api.test/x", "https://api.test:8443/y"},
		{"http://api.test/x", "http://api.test:8080/y"},
		{"https://api.test/x", "https://evil.test/y"},
		{"https://api.test/x", "https://api.test.evil/y"},
	}
	parse := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, c := range same {
		if a, b := hostcheck.OriginOf(parse(c[0])), hostcheck.OriginOf(parse(c[1])); a != b {
			t.Errorf("%s and %s: origins %v and %v, want the same", c[0], c[1], a, b)
		}
	}
	for _, c := range differ {
		if a, b := hostcheck.OriginOf(parse(c[0])), hostcheck.OriginOf(parse(c[1])); a == b {
			t.Errorf("%s and %s: both origin %v, want different", c[0], c[1], a)
		}
	}
}

// TestStripCredentialsBySecretsRule: off-origin, a header goes when it holds any of the session's
// secrets in any encoding the redactor knows (the rule the record marks secrets by): a token a
// refresh replaced, verbatim or in base64, not only the current pair verbatim.
func TestStripCredentialsBySecretsRule(t *testing.T) {
	e := edgeNew(t, edgeConfig("http://127.0.0.1:1", edgeProfile(t, "simplejwt")))
	t.Cleanup(e.Close)
	old := "replaced-access-token-0123456789abcdef"
	e.keepSecret(session.Token{Raw: old}, session.Token{}, session.Token{})
	h := http.Header{
		"X-Old":   {"Bearer " + old},
		"X-B64":   {base64.StdEncoding.EncodeToString([]byte(old))},
		"X-Plain": {"nothing secret here"},
	}
	e.stripCredentials(h)
	if h.Get("X-Old") != "" || h.Get("X-B64") != "" || h.Get("X-Plain") == "" {
		t.Errorf("after stripping: %v", h)
	}
}
