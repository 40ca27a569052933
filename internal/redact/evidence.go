package redact

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Evidence (--har, --log-bodies) is masked by the session's secrets first, and then, in case a
// credential never became one of them (an exchange that failed before its answer was read, a
// DPoP proof, a Basic credential), by the places credentials sit in: the credential of an
// Authorization header, a DPoP header, credential-named cookies, JSON members and form fields,
// and anything shaped like a JWT.

// Evidence masks text bound for a recording, and appends the tokens it held to found.
func (s *Secrets) Evidence(text string, found []Found) (string, []Found) {
	text, found = s.MaskFound(text, found)
	return credentialPlaces(text), found
}

// credentialPlaces masks what sits in a credential's place in text: a JWT, a credential-named
// JSON member, form or query field. What is already masked stays as it is (with its
// fingerprint).
func credentialPlaces(text string) string {
	text = jwtLike.ReplaceAllString(text, Masked)
	text = secretJSON.ReplaceAllStringFunc(text, func(m string) string {
		sub := secretJSON.FindStringSubmatch(m)
		if IsMasked(sub[2]) {
			return m
		}
		return sub[1] + Masked + sub[3]
	})
	return secretForm.ReplaceAllStringFunc(text, func(m string) string {
		sub := secretForm.FindStringSubmatch(m)
		if IsMasked(sub[2]) {
			return m
		}
		return sub[1] + Masked
	})
}

// EvidenceHeader is h masked for a recording: every value by the secrets, and the credential
// places as Evidence says.
func (s *Secrets) EvidenceHeader(h http.Header, found []Found) (http.Header, []Found) {
	out := make(http.Header, len(h))
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		for _, v := range vs {
			v, found = s.MaskFound(v, found)
			switch ck {
			case "Authorization", "Proxy-Authorization":
				v = maskScheme(v)
			case "Dpop":
				v = maskWhole(v)
			case "Cookie", "Set-Cookie":
				v = maskCookies(v, ck == "Set-Cookie")
			}
			out[k] = append(out[k], credentialPlaces(v))
		}
	}
	return out, found
}

// maskScheme keeps an Authorization header's scheme and masks its credential (Basic's
// user:password too, whatever the secrets are).
func maskScheme(v string) string {
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok {
		return maskWhole(v)
	}
	return scheme + " " + maskWhole(strings.TrimSpace(cred))
}

func maskWhole(v string) string {
	if IsMasked(v) || v == "" {
		return v
	}
	return Masked
}

// credentialName is a cookie, member or field name that holds a credential.
var credentialName = regexp.MustCompile(`(?i)token|session|sid|secret|auth|csrf|xsrf|jwt|key|pass|code`)

// maskCookies masks the values of every credential-named cookie in a Cookie header (all of
// them, not the first), or of a Set-Cookie's cookie, keeping its attributes.
func maskCookies(v string, set bool) string {
	parts := strings.Split(v, ";")
	for i, p := range parts {
		if set && i > 0 {
			break // attributes: Path, HttpOnly, ...
		}
		name, val, ok := strings.Cut(p, "=")
		if !ok || !credentialName.MatchString(name) {
			continue
		}
		parts[i] = name + "=" + maskWhole(strings.TrimSpace(val))
	}
	return strings.Join(parts, ";")
}

// credentialField is the one list of JSON member, form field and query parameter names whose
// values are credentials: tokens of every spelling (idToken, refresh_token), the simplejwt
// pair (access, refresh), passwords, client secrets and assertions, codes and verifiers, keys
// and signatures. Evidence and URLs are masked by it alike.
const credentialField = `[a-z_]*token|access|refresh|passw(?:or)?d|client_secret|(?:client_)?assertion|code(?:_verifier)?|device_code|secret|jwt|api_?key|key|sig(?:nature)?`

var (
	// jwtLike is a JSON Web Token anywhere in text.
	jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	// secretJSON and secretForm are JSON members and form or query fields that hold credentials.
	secretJSON = regexp.MustCompile(`("(?i:` + credentialField + `)"\s*:\s*")([^"]*)(")`)
	secretForm = regexp.MustCompile(`((?:^|[&?])(?i:` + credentialField + `)=)([^&\s;]*)`)
	// sensitiveParams are query parameters whose values URL masks.
	sensitiveParams = regexp.MustCompile(`(?i)^(?:` + credentialField + `)$`)
)

// URL is s for showing: the password of its userinfo as xxxxx (url.URL.Redacted) and the
// values of credential-named query parameters masked; s itself when it does not parse.
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	changed := false
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			if name, v, ok := strings.Cut(p, "="); ok && v != Masked && sensitiveParams.MatchString(name) {
				parts[i], changed = name+"="+Masked, true
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	if _, has := u.User.Password(); !has && !changed {
		return s // unchanged: keep the user's spelling
	}
	return u.Redacted()
}
