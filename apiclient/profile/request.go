package profile

import "net/http"

// Request is what a user sends. The body is kept as bytes so that a retry or a replay sends it
// intact (resty re-sends readers empty).
type Request struct {
	Name   string // what a list shows it as (a preset's or a .http file's name); the engine ignores it
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Provider names a call to the identity provider the engine builds itself
	// (apiclient.ProviderIntrospect); empty for an API request.
	Provider string
}

// PresetRequests returns the profile's ready-made requests as Requests.
func (p Profile) PresetRequests() []Request {
	out := make([]Request, 0, len(p.Presets))
	for _, ps := range p.Presets {
		h := http.Header{}
		for k, v := range ps.Headers {
			h.Set(k, v)
		}
		out = append(out, Request{Name: ps.Name, Method: ps.Method, Path: ps.Path, Header: h, Body: []byte(ps.Body)})
	}
	return out
}
