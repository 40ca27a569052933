// Command loginconsent is the login and consent app Hydra sends the browser to in the
// interop check (interop/hydra/run.sh). It knows one user, demo, and asks nothing: every login
// challenge is accepted as demo, and every consent challenge grants what was asked, through
// Hydra's admin API. Nothing is remembered (remember: false), so that each login goes through
// consent again.
//
// A user who unticks "offline access" is played by a browser that adds deny=offline_access to
// the consent URL: that consent grants every scope asked for but offline_access, so that the
// check can see that Hydra issues a refresh token only when consent granted it. One that adds
// reject=1 plays a person who denies the request altogether.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address (loopback only)")
	admin := flag.String("admin", "http://127.0.0.1:4445", "Hydra's admin API")
	flag.Parse()
	a := &app{admin: strings.TrimRight(*admin, "/"), hc: &http.Client{Timeout: 10 * time.Second}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /consent", a.consent)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("loginconsent: listening on %s, Hydra admin at %s", *addr, a.admin)
	log.Fatal(srv.ListenAndServe())
}

type app struct {
	admin string
	hc    *http.Client
}

// login accepts the login challenge as demo.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("login_challenge")
	if ch == "" {
		http.Error(w, "no login_challenge", http.StatusBadRequest)
		return
	}
	var req struct {
		Skip    bool   `json:"skip"`
		Subject string `json:"subject"`
	}
	if err := a.call(http.MethodGet, "/admin/oauth2/auth/requests/login?login_challenge="+url.QueryEscape(ch), nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	body := map[string]any{"subject": "demo", "remember": false}
	if err := a.call(http.MethodPut, "/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(ch), body, &out); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	log.Printf("login: accepted as demo (skip=%v)", req.Skip)
	http.Redirect(w, r, out.RedirectTo, http.StatusFound)
}

// consent grants the requested scopes and audiences, less those named by deny.
func (a *app) consent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ch := q.Get("consent_challenge")
	if ch == "" {
		http.Error(w, "no consent_challenge", http.StatusBadRequest)
		return
	}
	var req struct {
		Skip           bool     `json:"skip"`
		RequestedScope []string `json:"requested_scope"`
		RequestedAud   []string `json:"requested_access_token_audience"`
		Client         struct {
			ClientID string `json:"client_id"`
		} `json:"client"`
	}
	if err := a.call(http.MethodGet, "/admin/oauth2/auth/requests/consent?consent_challenge="+url.QueryEscape(ch), nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if q.Get("reject") != "" {
		// The person pressed "deny": Hydra sends the browser back to the client with an error.
		var out struct {
			RedirectTo string `json:"redirect_to"`
		}
		body := map[string]any{"error": "access_denied", "error_description": "The resource owner denied the request", "status_code": 403}
		if err := a.call(http.MethodPut, "/admin/oauth2/auth/requests/consent/reject?consent_challenge="+url.QueryEscape(ch), body, &out); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		log.Printf("consent: client %s asked %v, rejected", req.Client.ClientID, req.RequestedScope)
		http.Redirect(w, r, out.RedirectTo, http.StatusFound)
		return
	}
	deny := q["deny"]
	grant := slices.DeleteFunc(slices.Clone(req.RequestedScope), func(s string) bool { return slices.Contains(deny, s) })
	body := map[string]any{
		"grant_scope":                 grant,
		"grant_access_token_audience": req.RequestedAud,
		"remember":                    false,
		"session": map[string]any{
			"id_token": map[string]any{"preferred_username": "demo"},
		},
	}
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	if err := a.call(http.MethodPut, "/admin/oauth2/auth/requests/consent/accept?consent_challenge="+url.QueryEscape(ch), body, &out); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	log.Printf("consent: client %s asked %v, granted %v (skip=%v)", req.Client.ClientID, req.RequestedScope, grant, req.Skip)
	http.Redirect(w, r, out.RedirectTo, http.StatusFound)
}

// call sends a JSON request to Hydra's admin API and decodes its JSON answer into out.
func (a *app) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.admin+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}
