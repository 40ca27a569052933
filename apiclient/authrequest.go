package apiclient

// How login and refresh calls are built: the profile says where each field travels.

import (
	"context"
	"net/url"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/oidc"
)

// authRequest builds a login or refresh call: fields travel as the endpoint says.
func (e *Engine) authRequest(ctx context.Context, ep Endpoint, fields map[string]string) *resty.Request {
	r := e.auth.R().SetContext(ctx).SetHeader("Accept", "application/json")
	all := map[string]string{}
	for k, v := range ep.Extra {
		all[k] = v
	}
	if l := e.idp.Load(); l != nil {
		// At an identity provider the client authenticates as the OIDC client does (RFC 6749
		// §2.3): Basic, or its id (and secret) in the body.
		c := l.client
		switch c.Method() {
		case oidc.AuthBasic:
			r.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
		case oidc.AuthPost:
			all["client_id"], all["client_secret"] = c.ID, c.Secret
		default:
			all["client_id"] = c.ID
		}
	} else if e.profile.OAuthClient {
		all["client_id"] = e.cfg.ClientID
		if e.cfg.ClientSecret != "" {
			all["client_secret"] = e.cfg.ClientSecret
		}
	}
	ep.applyExtras(r, all)
	switch ep.Send {
	case SendCookie:
		// The jar sends the cookie; the CSRF header goes with it.
		e.prepareCookieRefresh(r)
		if len(all) > 0 || len(ep.JSON) > 0 {
			r.SetHeader("Content-Type", ep.contentType("application/json")).SetBody(ep.jsonBody(all))
		}
	case SendHeader:
		for k, v := range fields {
			r.SetHeader(k, withScheme(ep.TokenScheme, v))
		}
		if len(all) > 0 || len(ep.JSON) > 0 {
			r.SetHeader("Content-Type", ep.contentType("application/json")).SetBody(ep.jsonBody(all))
		}
	case SendForm:
		form := url.Values{}
		for k, v := range all {
			form.Set(k, v)
		}
		for k, v := range fields {
			form.Set(k, v)
		}
		r.SetHeader("Content-Type", ep.contentType("application/x-www-form-urlencoded")).SetBody([]byte(form.Encode()))
	default:
		for k, v := range fields {
			all[k] = v
		}
		// Dotted names nest (AuthParameters.REFRESH_TOKEN), under the endpoint's json members.
		r.SetHeader("Content-Type", ep.contentType("application/json")).SetBody(ep.jsonBody(all))
	}
	return r
}
