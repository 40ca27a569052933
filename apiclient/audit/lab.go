package audit

// The lab: the calls every experiment makes (log in, refresh with a chosen token, call the API
// with a chosen token), the login budget, the server's clock read from Date, and the evidence.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"tokenscope/apiclient/dpop"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

// maxBody caps what is read of any answer: the audit needs status, headers and small JSON.
const maxBody = 1 << 20

// errBudget is a check's refusal to log in once more than --logins allows.
var errBudget = errors.New("the login budget is spent")

// lab runs the experiments' calls. One check runs at a time; the calls of one check may run
// concurrently (concurrent_refresh), so what they share has its own lock.
type lab struct {
	t          Target
	s          Settings
	client     *http.Client
	apiHeaders map[string]string
	envErr     error
	start      time.Time

	check      string // the check running
	logins     int    // its logins
	loginsUsed int    // all checks' logins

	mu       sync.Mutex
	evidence []string
	secrets  *redact.Secrets // every token and credential seen, masked in what the lab quotes
	offLo    time.Duration
	offSeen  bool

	// Experiments more than one check builds on, run once.
	rot   *rotationFact
	grace *graceFact
	api   *apiFact
}

func newLab(t Target, s Settings) *lab {
	tr := t.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	if ht, ok := tr.(*http.Transport); ok {
		// A race needs a connection per racer, open before it starts (see warm).
		ht = ht.Clone()
		ht.MaxIdleConnsPerHost = max(ht.MaxIdleConnsPerHost, s.Parallel+2)
		tr = ht
	}
	l := &lab{t: t, s: s, start: s.Clock.Now(), secrets: t.Secrets}
	if l.secrets == nil {
		l.secrets = redact.New()
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	l.client = &http.Client{Transport: tr, Timeout: timeout,
		// A token call is never followed elsewhere: a redirect is an answer to report.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	env, err := t.Profile.ResolveEnv()
	l.apiHeaders, l.envErr = env.APIHeaders, err
	l.secrets.Add(redact.Credential, env.Secrets...)
	l.secrets.Add(redact.Credential, t.Password, t.ClientSecret)
	return l
}

// begin starts a check: its own login budget and evidence.
func (l *lab) begin(id string) {
	l.check, l.logins = id, 0
	l.mu.Lock()
	l.evidence = nil
	l.mu.Unlock()
}

// exchange is one call and its answer.
type exchange struct {
	what       string // login, refresh, api
	method     string
	path       string
	status     int
	header     http.Header
	body       []byte
	sent, recv time.Time // on the audit's clock
	err        error
}

func (x exchange) ok() bool { return x.err == nil && x.status >= 200 && x.status < 300 }

// family is one login's tokens, as the client holding them sees them.
type family struct {
	access, refresh session.Token
	tokenType       string
	expiresIn       time.Duration     // the login answer's expires_in; zero when it had none
	cookies         map[string]string // the cookie convention's cookies, by name
}

// dpopBound reports that the login's token_type is DPoP (RFC 9449 §5; case-insensitive, as
// RFC 6749 §5.1 has token_type).
func (f *family) dpopBound() bool { return strings.EqualFold(f.tokenType, dpop.Scheme) }

// clone is a copy a concurrent caller may change alone.
func (f *family) clone() *family {
	c := *f
	c.cookies = maps.Clone(f.cookies)
	return &c
}

// apply takes a refresh's new tokens and cookies.
func (f *family) apply(v profile.Verdict, x exchange) {
	if v.Outcome == profile.VerdictOK {
		f.access = v.Answer.Access
		if v.Answer.Rotated {
			f.refresh = v.Answer.Refresh
		}
	}
	f.takeCookies(x)
}

func (f *family) takeCookies(x exchange) {
	for _, c := range (&http.Response{Header: x.header}).Cookies() {
		if f.cookies == nil {
			f.cookies = map[string]string{}
		}
		if c.MaxAge < 0 || c.Value == "" {
			delete(f.cookies, c.Name)
		} else {
			f.cookies[c.Name] = c.Value
		}
	}
}

// login starts a new family, within the check's budget.
func (l *lab) login(ctx context.Context) (*family, exchange, error) {
	if l.envErr != nil {
		return nil, exchange{}, l.envErr
	}
	if l.logins >= l.s.Logins {
		return nil, exchange{}, fmt.Errorf("%w (%d logins per check)", errBudget, l.s.Logins)
	}
	l.logins++
	l.loginsUsed++
	ep := l.t.Profile.Login
	x := l.call(ctx, "login", ep, map[string]string{ep.UserField: l.t.Username, ep.PasswordField: l.t.Password}, nil)
	if x.err != nil {
		return nil, x, fmt.Errorf("login: %w", x.err)
	}
	if !x.ok() {
		l.note(x, "")
		return nil, x, fmt.Errorf("login answered %d: %s", x.status, l.words(x.body))
	}
	a, err := l.t.Profile.ParseAnswer(x.header, x.body, l.serverTime(x.recv), true)
	if err != nil {
		return nil, x, fmt.Errorf("login answer: %w", err)
	}
	f := &family{access: a.Access, refresh: a.Refresh, tokenType: a.TokenType, expiresIn: a.ExpiresIn}
	f.takeCookies(x)
	l.remember(a)
	l.note(x, "new family: access "+fp(a.Access)+", refresh "+fp(a.Refresh))
	return f, x, nil
}

// refresh presents token (the family's current refresh token, or an older one) at the refresh
// endpoint and judges the answer by the profile. It does not change f: see family.apply.
func (l *lab) refresh(ctx context.Context, f *family, token, why string) (profile.Verdict, exchange) {
	ep := l.t.Profile.Refresh
	var fields, cookies map[string]string
	if l.t.Profile.CookieMode() {
		cookies = maps.Clone(f.cookies)
		if cookies == nil {
			cookies = map[string]string{}
		}
		cookies[l.t.Profile.Cookie.Refresh] = token
	} else {
		fields = map[string]string{ep.TokenField: token}
	}
	x := l.call(ctx, "refresh", ep, fields, cookies)
	v := l.t.Profile.RefreshVerdict(profile.Reply{Status: x.status, Header: x.header, Body: x.body, Err: x.err,
		ServerRecv: l.serverTime(x.recv), Redact: l.redact})
	if v.Outcome == profile.VerdictOK {
		l.remember(v.Answer)
	}
	detail := "presented " + session.Fingerprint(token) + " " + why
	if v.Outcome == profile.VerdictOK && v.Answer.Rotated {
		detail += " → new refresh " + fp(v.Answer.Refresh)
	} else if v.Outcome != profile.VerdictOK {
		detail += " → " + v.Outcome.String()
	}
	l.note(x, detail)
	return v, x
}

// apiCall sends the audit's API request with access (raw, maybe forged) in the profile's auth
// header.
func (l *lab) apiCall(ctx context.Context, access, why string) exchange {
	r := l.t.API
	u, err := l.resolve(r.Path)
	if err != nil {
		return exchange{what: "api", err: err}
	}
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	for k, v := range l.apiHeaders {
		h.Set(k, v)
	}
	h.Set(l.t.Profile.Auth.Header, profile.WithScheme(l.t.Profile.Auth.Scheme, access))
	x := l.do(ctx, "api", r.Method, u, h, r.Body)
	l.note(x, why)
	return x
}

// call sends a login or refresh call as the profile's endpoint describes it.
func (l *lab) call(ctx context.Context, what string, ep profile.Endpoint, fields, cookies map[string]string) exchange {
	extra := maps.Clone(ep.Extra)
	if extra == nil {
		extra = map[string]string{}
	}
	if l.t.Profile.OAuthClient {
		extra["client_id"] = l.t.ClientID
		if l.t.ClientSecret != "" {
			extra["client_secret"] = l.t.ClientSecret
		}
	}
	c := ep.AuthCall(extra, fields)
	u, err := l.resolve(ep.Target())
	if err != nil {
		return exchange{what: what, err: err}
	}
	if len(c.Query) > 0 {
		u.RawQuery = c.Query.Encode()
	}
	h := c.Header
	h.Set("Accept", "application/json")
	if c.ContentType != "" {
		h.Set("Content-Type", c.ContentType)
	}
	for name, v := range cookies {
		h.Add("Cookie", (&http.Cookie{Name: name, Value: v}).String())
	}
	if csrf := l.t.Profile.Cookie; csrf.CSRFHeader != "" && cookies != nil {
		h.Set(csrf.CSRFHeader, cookies[csrf.CSRFCookie])
	}
	method := ep.Method
	if method == "" {
		method = http.MethodPost
	}
	return l.do(ctx, what, method, u, h, c.Body)
}

// resolve makes a path absolute against the target (an absolute URL stays as it is).
func (l *lab) resolve(p string) (*url.URL, error) {
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		return url.Parse(p)
	}
	return url.Parse(strings.TrimRight(l.t.BaseURL, "/") + "/" + strings.TrimLeft(p, "/"))
}

func (l *lab) do(ctx context.Context, what, method string, u *url.URL, h http.Header, body []byte) exchange {
	x := exchange{what: what, method: method, path: u.Path, sent: l.s.Clock.Now()}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		x.err = err
		return x
	}
	req.Header = h
	resp, err := l.client.Do(req)
	x.recv = l.s.Clock.Now()
	if err != nil {
		x.err = err
		return x
	}
	defer resp.Body.Close()
	x.status, x.header = resp.StatusCode, resp.Header
	x.body, x.err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	l.observeDate(x)
	return x
}

// observeDate keeps the lower bound of the server's clock offset: Date has whole seconds and
// was stamped before the answer arrived, so offset ≥ Date − arrival.
func (l *lab) observeDate(x exchange) {
	d, err := http.ParseTime(x.header.Get("Date"))
	if err != nil {
		return
	}
	off := d.Sub(x.recv)
	l.mu.Lock()
	if !l.offSeen || off > l.offLo {
		l.offLo, l.offSeen = off, true
	}
	l.mu.Unlock()
}

// serverTime is a local time on the server's clock (its lower bound).
func (l *lab) serverTime(local time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return local.Add(l.offLo)
}

// localFor is the local time by which the server's clock has surely reached t.
func (l *lab) localFor(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return t.Add(-l.offLo)
}

// waitUntil sleeps until the local time at, saying so.
func (l *lab) waitUntil(ctx context.Context, at time.Time, doing string) error {
	d := at.Sub(l.s.Clock.Now())
	if d > 0 {
		l.s.Progress(l.check, doing, d)
	}
	return l.s.Clock.Sleep(ctx, d)
}

// remember adds an answer's tokens to what is masked.
func (l *lab) remember(a profile.Answer) {
	l.secrets.Add(redact.Access, a.Access.Raw)
	l.secrets.Add(redact.Refresh, a.Refresh.Raw)
}

// redact masks every token and credential the lab has seen (redact.Secrets: tokens by their
// fingerprint, in every encoding; a short password only in a credential's place).
func (l *lab) redact(s string) string { return l.secrets.Mask(s) }

// words is what an error answer said, masked and made one inert line.
func (l *lab) words(body []byte) string {
	return sanitize.Line(profile.Words(body, l.redact))
}

// note records an exchange as evidence: when, what went out, what came back, and why it
// matters. Tokens appear as fingerprints only.
func (l *lab) note(x exchange, detail string) {
	at := x.sent.Sub(l.start).Seconds()
	var got string
	switch {
	case x.err != nil:
		got = "no answer: " + l.redact(x.err.Error())
	case x.ok():
		got = fmt.Sprintf("%d", x.status)
	default:
		got = fmt.Sprintf("%d %s", x.status, l.words(x.body))
	}
	line := fmt.Sprintf("+%.1fs %s %s → %s", at, x.method, x.path, sanitize.Line(got))
	if detail != "" {
		line += " · " + detail
	}
	l.mu.Lock()
	l.evidence = append(l.evidence, line)
	l.mu.Unlock()
}

func fp(t session.Token) string {
	if t.Empty() {
		return "none"
	}
	return t.Fingerprint()
}

// seconds is d in seconds, rounded to a tenth, for the JSON values.
func seconds(d time.Duration) float64 {
	return float64(d.Round(100*time.Millisecond)) / float64(time.Second)
}
