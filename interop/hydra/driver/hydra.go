package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// hydraAdmin talks to Hydra's admin API.
type hydraAdmin struct {
	base string
	hc   *http.Client
}

func newHydraAdmin(base string) *hydraAdmin {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	return &hydraAdmin{base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// introspection is RFC 7662's answer, as much as the checks read.
type introspection struct {
	Active    bool   `json:"active"`
	TokenUse  string `json:"token_use"`
	Sub       string `json:"sub"`
	ClientID  string `json:"client_id"`
	Scope     string `json:"scope"`
	Exp       int64  `json:"exp"`
	TokenType string `json:"token_type"`
}

func (h *hydraAdmin) introspect(ctx context.Context, tok string) (*introspection, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/admin/oauth2/introspect",
		strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var in introspection
	if err := h.do(req, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// call sends a JSON body (nil: none) and decodes the answer into out (nil: ignored).
func (h *hydraAdmin) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return h.do(req, out)
}

func (h *hydraAdmin) do(req *http.Request, out any) error {
	req.Header.Set("Accept", "application/json")
	resp, err := h.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, out)
}

// putClient registers a client, replacing one with the same id (so that a rerun against a
// Hydra that kept its clients works too).
func (h *hydraAdmin) putClient(ctx context.Context, c map[string]any) error {
	id := c["client_id"].(string)
	_ = h.call(ctx, http.MethodDelete, "/admin/clients/"+url.PathEscape(id), nil, nil)
	return h.call(ctx, http.MethodPost, "/admin/clients", c, nil)
}
