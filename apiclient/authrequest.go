package apiclient

// How login and refresh calls are built: the profile says where each field travels.

import (
	"context"
	"net/url"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
)

// authRequest builds a login or refresh call: fields travel as the endpoint says.
func (e *Engine) authRequest(ctx context.Context, ep profile.Endpoint, fields map[string]string) *resty.Request {
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
	wire := ep.AuthCall(all, fields)
	if len(wire.Query) > 0 {
		r.SetQueryParamsFromValues(wire.Query)
	}
	for k := range wire.Header {
		r.SetHeader(k, wire.Header.Get(k))
	}
	if ep.Send == profile.SendCookie {
		// The jar sends the cookie; the CSRF header goes with it.
		e.prepareCookieRefresh(r)
	}
	if wire.ContentType != "" {
		r.SetHeader("Content-Type", wire.ContentType).SetBody(wire.Body)
	}
	return r
}

// exchange sends a login or refresh call and reads its answer.
func (e *Engine) exchange(r *resty.Request, method, target string) (reply, error) {
	resp, err := r.Execute(method, target)
	if err != nil {
		return reply{}, err
	}
	return e.readReply(resp)
}
