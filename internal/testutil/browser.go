package testutil

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Browser plays the user agent against the demo server's HTML pages (its authorize and device
// pages) over real HTTP: it keeps cookies and does not follow redirects, so a test reads each
// Location itself. It reports errors rather than failing a test, so goroutines may use it.
type Browser struct{ Client *http.Client }

// NewBrowser returns a browser with an empty cookie jar.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil) // cannot fail without options
	return &Browser{Client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Page is one answer as the browser saw it.
type Page struct {
	Status   int
	Header   http.Header
	Location string // of a redirect
	Body     string
}

// Get loads u.
func (b *Browser) Get(u string) (Page, error) { return read(b.Client.Get(u)) }

// Post submits form to u.
func (b *Browser) Post(u string, form url.Values) (Page, error) {
	return read(b.Client.PostForm(u, form))
}

func read(resp *http.Response, err error) (Page, error) {
	if err != nil {
		return Page{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return Page{Status: resp.StatusCode, Header: resp.Header, Location: resp.Header.Get("Location"), Body: string(body)}, err
}

var reqField = regexp.MustCompile(`name="req" value="([^"]+)"`)

// FormID is the hidden request id of one of the demo server's login or approve forms.
func (p Page) FormID() (string, error) {
	m := reqField.FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil {
		return "", fmt.Errorf("no form with a req field: %d %.300s", p.Status, p.Body)
	}
	return m[1], nil
}

// Consent fills the login form shown in login as user/password, then presses approve (or
// deny) on the form that follows, posting both to formURL; it returns the last answer.
func (b *Browser) Consent(formURL string, login Page, user, password string, approve bool) (Page, error) {
	id, err := login.FormID()
	if err != nil {
		return Page{}, fmt.Errorf("login form: %w", err)
	}
	a, err := b.Post(formURL, url.Values{"req": {id}, "username": {user}, "password": {password}})
	if err != nil {
		return Page{}, err
	}
	if !strings.Contains(a.Body, `name="approve"`) || !strings.Contains(a.Body, `name="deny"`) {
		return a, fmt.Errorf("no approve form after the login: %d %.300s", a.Status, a.Body)
	}
	if id, err = a.FormID(); err != nil {
		return a, err
	}
	button := "deny"
	if approve {
		button = "approve"
	}
	return b.Post(formURL, url.Values{"req": {id}, button: {"1"}})
}

// Authorize opens an authorization URL of the demo provider, logs in as user, approves, and
// follows the redirect back to the client's loopback listener, which must answer 200.
func (b *Browser) Authorize(authURL, user, password string) error {
	login, err := b.Get(authURL)
	if err != nil {
		return err
	}
	u, _ := url.Parse(authURL)
	p, err := b.Consent(u.Scheme+"://"+u.Host+u.Path, login, user, password, true)
	if err != nil {
		return err
	}
	if p.Status != http.StatusFound || !strings.Contains(p.Location, "code=") {
		return fmt.Errorf("approve answered HTTP %d, Location %q", p.Status, p.Location)
	}
	if p, err = b.Get(p.Location); err == nil && p.Status != http.StatusOK {
		err = fmt.Errorf("callback answered HTTP %d", p.Status)
	}
	return err
}

// ApproveDevice enters userCode on the demo provider's verification page, logs in as user
// and approves.
func (b *Browser) ApproveDevice(verificationURI, userCode, user, password string) error {
	if _, err := b.Get(verificationURI); err != nil {
		return err
	}
	login, err := b.Post(verificationURI, url.Values{"user_code": {userCode}})
	if err != nil {
		return err
	}
	p, err := b.Consent(verificationURI, login, user, password, true)
	if err == nil && p.Status != http.StatusOK {
		err = fmt.Errorf("approve answered HTTP %d", p.Status)
	}
	return err
}
