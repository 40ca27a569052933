package profile

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"tokenscope/internal/hostcheck"
)

// HostJar is the engine's cookie jar, for one host: it stores cookies that host sets (as
// host-only cookies, whatever Domain they name) and gives them back only to that host, with
// net/http/cookiejar's path, expiry and Secure rules. Reset empties it.
type HostJar struct {
	origin string // the target's (hostcheck.OriginOf): https://API.test and https://api.test:443 are one
	mu     sync.Mutex
	jar    *cookiejar.Jar
	kept   atomic.Bool // a cookie was stored since the jar was made or reset
}

// Empty reports that the jar has never stored a cookie (since a Reset): most APIs set none,
// and a request then asks nothing of the jar.
func (h *HostJar) Empty() bool { return h == nil || !h.kept.Load() }

// NewHostJar is an empty jar for target's scheme and host.
func NewHostJar(target *url.URL) *HostJar {
	j, _ := cookiejar.New(nil) // never fails with nil options
	return &HostJar{origin: hostcheck.OriginOf(target), jar: j}
}

func (h *HostJar) mine(u *url.URL) bool {
	return h != nil && u != nil && h.origin != "" && hostcheck.OriginOf(u) == h.origin
}

func (h *HostJar) inner() *cookiejar.Jar {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.jar
}

// SetCookies keeps the target's cookies, host-only; another host's are dropped, and so is a
// cookie whose Domain the target's host does not belong to.
func (h *HostJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if !h.mine(u) {
		return
	}
	host := strings.ToLower(u.Hostname())
	cs := make([]*http.Cookie, 0, len(cookies))
	for _, c := range cookies {
		if !DomainMatch(host, c.Domain) {
			continue // RFC 6265 §5.3 step 6: the host must domain-match the Domain attribute
		}
		cp := *c
		cp.Domain = "" // host-only: never sent to another host, a sibling or parent domain
		cs = append(cs, &cp)
	}
	if len(cs) > 0 {
		h.kept.Store(true)
	}
	h.inner().SetCookies(u, cs)
}

// Cookies are the cookies to send to u: none unless u is the target's host.
func (h *HostJar) Cookies(u *url.URL) []*http.Cookie {
	if h.Empty() || !h.mine(u) {
		return nil
	}
	return h.inner().Cookies(u)
}

// Reset empties the jar (a logout).
func (h *HostJar) Reset() {
	j, _ := cookiejar.New(nil)
	h.mu.Lock()
	h.jar = j
	h.kept.Store(false)
	h.mu.Unlock()
}
