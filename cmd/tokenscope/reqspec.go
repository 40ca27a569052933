package main

// What fire and request send: METHOD PATH, or the NAME of a request from --requests, the
// config target's presets or the profile's; with -H headers on top.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"tokenscope/apiclient/httpfile"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/redact"
)

// registerHeaderFlag adds -H, repeatable, to fs.
func registerHeaderFlag(fs *pflag.FlagSet, dst *[]string) {
	fs.StringArrayVarP(dst, "header", "H", nil, "add a header, 'Name: value' (repeatable); it replaces a named request's header of that name")
}

// presetsOf is every request a NAME may pick: the --requests file's and the config target's
// (collection), then the profile's.
func presetsOf(p profile.Profile, collection []profile.Request) []profile.Request {
	return slices.Concat(collection, p.PresetRequests())
}

// namedRequest finds the request called name: an exact match first, else the one whose name
// matches ignoring case. It returns a copy, so that -H and -d change only what is sent. The
// error lists the names there are, so that a typo is fixed without opening the file.
func namedRequest(presets []profile.Request, name string) (profile.Request, error) {
	found := -1
	for i, r := range presets {
		if r.Name == name {
			found = i
			break
		}
		if found < 0 && strings.EqualFold(r.Name, name) {
			found = i
		}
	}
	if found >= 0 {
		r := presets[found]
		if r.Err != "" {
			return profile.Request{}, usageError("%s", r.Err) // nothing to send: its file said why
		}
		r.Header, r.Body = cloneHeader(r.Header), slices.Clone(r.Body)
		return r, nil
	}
	if _, err := httpfile.NewRequest(name, "/", nil, nil); err == nil {
		return profile.Request{}, errors.New("give both METHOD and PATH, e.g. GET /api/me (or the NAME of a request)")
	}
	if len(presets) == 0 {
		return profile.Request{}, fmt.Errorf("no request named %q: there are no named requests; give METHOD PATH, or --requests FILE.http NAME", name)
	}
	names := make([]string, 0, len(presets))
	for _, r := range presets {
		names = append(names, fmt.Sprintf("%q", r.Name))
	}
	return profile.Request{}, fmt.Errorf("no request named %q; the requests are: %s", name, strings.Join(names, ", "))
}

func cloneHeader(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		out[k] = slices.Clone(vs)
	}
	return out
}

// withHeaders adds the -H headers to r. The first -H of a name replaces the header of that
// name the request had (a named request's), later ones add to it, as curl does with repeats.
func withHeaders(r profile.Request, hs []string) (profile.Request, error) {
	if len(hs) == 0 {
		return r, nil
	}
	r.Header = cloneHeader(r.Header)
	seen := map[string]bool{}
	for _, h := range hs {
		name, value, err := httpfile.ParseHeader(h)
		if err != nil {
			return profile.Request{}, usageError("-H %q: %v", h, err)
		}
		key := http.CanonicalHeaderKey(name)
		if !seen[key] {
			r.Header.Del(key)
			seen[key] = true
		}
		r.Header.Add(key, value)
	}
	return r, nil
}

// refuseAuthHeader refuses a -H for the header the session's token goes in. The engine sets
// that header on every attempt (and again on the retry after a refresh), so the user's value
// would be dropped without a word; a request with other credentials is not a session's.
func refuseAuthHeader(hs []string, p profile.Profile, dpop bool) error {
	auth := p.Auth.TokenHeaders(dpop)
	for _, h := range hs {
		name, _, err := httpfile.ParseHeader(h)
		if err != nil {
			continue // withHeaders says what is wrong with it
		}
		for _, a := range auth {
			if a != "" && strings.EqualFold(name, a) {
				return usageError("-H %s: the session's token goes in this header and tokenscope sets it on every attempt; send other credentials with another tool", name)
			}
		}
	}
	return nil
}

// sameAsPreset names the preset whose method and path are those of r, when it has headers or a
// body that METHOD PATH does not send: the user may have meant it.
func sameAsPreset(presets []profile.Request, r profile.Request) (string, bool) {
	for _, p := range presets {
		if p.Method == r.Method && p.Path == r.Path && (len(p.Body) > 0 && len(r.Body) == 0 || len(p.Header) > 0 && len(r.Header) == 0) {
			return p.Name, true
		}
	}
	return "", false
}

// labelJSON labels a JSON body that has no Content-Type, as the composer and METHOD PATH BODY
// do: a .http file's request often leaves it out, and APIs answer 415 without it.
func labelJSON(r profile.Request) profile.Request {
	if len(r.Body) > 0 && r.Header.Get("Content-Type") == "" && json.Valid(r.Body) {
		r.Header = cloneHeader(r.Header)
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// fullURL is METHOD URL's URL (the last of two arguments) when it is an absolute http(s) URL;
// "" for a path or a NAME.
func fullURL(args []string) string {
	if len(args) != 2 || hostcheck.Origin(args[1]) == "" {
		return ""
	}
	return args[1]
}

// checkURLOrigin refuses a full URL of another origin than the session's target: its host would
// be dropped and the request, with the session's credentials, sent to the target instead. It
// runs before anything is sent.
func checkURLOrigin(rawURL, target string) error {
	o := hostcheck.Origin(rawURL)
	if o == "" || o == hostcheck.Origin(target) {
		return nil
	}
	return usageError("%s is at %s, but the session's target is %s: refused, nothing was sent (leave out --target to talk to %s, or give a path)",
		redact.URL(rawURL), o, hostcheck.Origin(target), o)
}
