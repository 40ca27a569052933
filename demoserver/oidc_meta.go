package demoserver

import (
	"net/http"
)

// discovery is the OpenID Provider Metadata (OIDC Discovery §3), also served as RFC 8414
// authorization server metadata.
func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	iss := s.issuer(r)
	doc := map[string]any{
		"issuer":                                         iss,
		"authorization_endpoint":                         iss + "/authorize",
		"token_endpoint":                                 iss + "/oauth/token",
		"device_authorization_endpoint":                  iss + "/oauth/device",
		"revocation_endpoint":                            iss + "/oauth/revoke",
		"introspection_endpoint":                         iss + "/oauth/introspect",
		"userinfo_endpoint":                              iss + "/userinfo",
		"jwks_uri":                                       iss + "/.well-known/jwks.json",
		"grant_types_supported":                          []string{grantAuthCode, grantRefresh, grantClientCreds, grantDeviceCode, grantPassword},
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"none", "client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":     []string{"none", "client_secret_basic", "client_secret_post"},
		"introspection_endpoint_auth_methods_supported":  []string{"none", "client_secret_basic", "client_secret_post"},
		"scopes_supported":                               supportedScopes,
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{s.signer.alg},
		"claims_supported":                               []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "name", "email", "preferred_username"},
		"authorization_response_iss_parameter_supported": true,
	}
	if !s.opts.NoDPoP {
		doc["dpop_signing_alg_values_supported"] = dpopAlgs
	}
	writeJSON(w, http.StatusOK, doc)
}

// revoke is RFC 7009: a refresh token takes its family with it; an access token dies alone.
// Unknown, expired or foreign tokens get the same 200, so the answer reveals nothing.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	form, c := s.clientForm(w, r)
	if c == nil {
		return
	}
	raw := form.Get("token")
	if raw == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "revocation needs token")
		return
	}
	s.mu.Lock()
	what := "nothing"
	if rec, err := s.lookupRefresh(raw); err == nil {
		if f := s.families[rec.family]; f != nil && f.client == c.id && !f.revoked {
			f.revoked = true
			what = "refresh family"
		}
	} else if rec, err := s.lookupAccessLocked(raw); err == nil {
		if f := s.families[rec.family]; f != nil && f.client == c.id && !rec.killed {
			rec.killed = true
			what = "access token"
		}
	}
	if what != "nothing" {
		s.stats.Revocations++
	}
	s.mu.Unlock()
	note(w, "revoked %s", what)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// introspect is RFC 7662. Any registered client may ask (the public one by its client_id, as
// at the token endpoint); an inactive token is just {"active": false}.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	form, c := s.clientForm(w, r)
	if c == nil {
		return
	}
	raw := form.Get("token")
	if raw == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "introspection needs token")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Introspections++
	out := map[string]any{"active": false}
	if rec, f, err := s.liveAccessLocked(raw); err == nil {
		out = introspection(f, "Bearer", rec.iat.Unix(), rec.exp.Unix())
		if rec.jkt != "" { // RFC 9449 §6.2
			out["token_type"], out["cnf"] = "DPoP", map[string]string{"jkt": rec.jkt}
		}
	} else if rec, err := s.lookupRefresh(raw); err == nil && !rec.rotated {
		if f := s.families[rec.family]; f != nil && !f.revoked && s.now().Before(rec.exp) {
			out = introspection(f, "refresh_token", rec.iat.Unix(), rec.exp.Unix())
		}
	}
	if out["active"] == true {
		out["iss"] = s.issuer(r)
	}
	note(w, "introspect active=%v", out["active"])
	writeJSON(w, http.StatusOK, out)
}

func introspection(f *family, typ string, iat, exp int64) map[string]any {
	return map[string]any{"active": true, "scope": f.scope, "client_id": f.client, "sub": f.user,
		"username": f.user, "exp": exp, "iat": iat, "token_type": typ}
}

// userinfo is OIDC Core §5.3: the claims of the user behind an access token with openid scope.
// It takes the token as the resources do: Bearer, or DPoP with a proof.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	user, scope, fail := s.presentedAccess(w, r)
	switch {
	case fail != nil && fail.code == "":
		fail.desc = "send an access token as Authorization: Bearer"
		fallthrough
	case fail != nil:
		note(w, "userinfo: %s", fail.desc)
		fail.body = map[string]string{"error": fail.code, "error_description": fail.desc}
		s.writeAuthFail(w, http.StatusUnauthorized, fail)
	case !hasScope(scope, scopeOpenID):
		fail = &authFail{scheme: "Bearer", code: "insufficient_scope", desc: "the access token was not granted the openid scope"}
		note(w, "userinfo: %s", fail.desc)
		fail.body = map[string]string{"error": fail.code, "error_description": fail.desc}
		s.writeAuthFail(w, http.StatusForbidden, fail)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"sub": user, "name": "Demo User",
			"email": user + "@example.test", "preferred_username": user})
	}
}
