package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
)

// resourceServer is the API the engine calls: GET /api/me answers who the bearer token
// belongs to. It checks every token at Hydra's introspection endpoint (admin API), so that an
// expired, revoked or unknown token gets a real 401 with error="invalid_token" (RFC 6750 §3.1),
// and a refresh token used as a bearer token is refused.
type resourceServer struct {
	hydra *hydraAdmin

	ok, denied atomic.Int64
}

func (rs *resourceServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/me" {
		http.NotFound(w, r)
		return
	}
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="interop"`)
		http.Error(w, "no bearer token", http.StatusUnauthorized)
		rs.denied.Add(1)
		return
	}
	in, err := rs.hydra.introspect(r.Context(), tok)
	if err != nil {
		http.Error(w, "introspection failed: "+err.Error(), http.StatusBadGateway)
		return
	}
	if !in.Active || in.TokenUse != "access_token" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="interop", error="invalid_token", error_description="the access token is not active"`)
		http.Error(w, "invalid_token", http.StatusUnauthorized)
		rs.denied.Add(1)
		return
	}
	rs.ok.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"sub": in.Sub, "client_id": in.ClientID, "scope": in.Scope, "exp": in.Exp})
}
