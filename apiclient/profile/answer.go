package profile

// Reading login and refresh answers: the wire format, kept apart from the token source
// (as x/oauth2 keeps internal/token.go apart from its TokenSource) so that it can be fuzzed.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"tokenscope/session"
)

// Answer is a parsed login or refresh answer.
type Answer struct {
	Access, Refresh session.Token
	// Rotated reports that the answer carried a refresh token: a refresh answer without one
	// keeps the old (Refresh is then the zero Token).
	Rotated bool
	// TokenType is token_type as sent ("Bearer", "DPoP"); "" when absent.
	TokenType string
	// IDToken is OpenID Connect's id_token and Scope OAuth's granted scope (RFC 6749 §5.1),
	// read at the answer's top level when they are strings; zero when absent.
	IDToken session.Token
	Scope   string
	// ExpiresIn is the answer's expires_in at the profile's path; zero when absent or null.
	ExpiresIn time.Duration
}

// parseTokens reads a login or refresh answer by the profile's token paths. Login needs
// both tokens; a refresh answer without a refresh token keeps the old one. It is a pure
// function of its input so that it can be fuzzed: the body comes from the network.
func parseTokens(paths TokenPaths, contentType string, body []byte, serverRecv time.Time, login bool) (Answer, error) {
	// An answer that carries tokens is never quoted in an error: tokens the parser could not
	// find are still tokens. Errors name content types, sizes and field names instead.
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "" && !strings.Contains(mt, "json") {
		return Answer{}, fmt.Errorf("answer is %s (%d bytes), not JSON", mt, len(body))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Answer{}, errors.New("answer has an empty body")
	}
	var doc any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return Answer{}, fmt.Errorf("answer is not JSON (%d bytes): %v", len(body), err)
	}
	str := func(path string) (string, error) {
		v, ok := lookupPath(doc, path)
		if !ok || v == nil {
			return "", fmt.Errorf("answer has no %q field (%s)", path, shapeOf(doc))
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("answer's %q is a %s, not a string", path, jsonType(v))
		}
		if s == "" {
			return "", fmt.Errorf("answer's %q is empty", path)
		}
		return s, nil
	}
	access, err := str(paths.Access)
	if err != nil {
		return Answer{}, err
	}
	var expiresIn time.Duration
	if paths.ExpiresIn != "" {
		// null says nothing, as an absent member does (some providers send it so).
		if v, ok := lookupPath(doc, paths.ExpiresIn); ok && v != nil {
			secs, err := strconv.ParseFloat(strings.TrimSpace(scalarString(v)), 64)
			if err != nil || secs < 0 || secs > 10*365*24*3600 {
				return Answer{}, fmt.Errorf("answer's %q is not a sensible number of seconds: %s", paths.ExpiresIn, Snippet([]byte(scalarString(v))))
			}
			expiresIn = time.Duration(secs * float64(time.Second))
		}
	}
	p := Answer{Access: session.ParseToken(access, serverRecv, expiresIn), ExpiresIn: expiresIn}
	p.readOAuthFields(doc, serverRecv)
	if paths.Refresh != "" {
		// "refresh_token": null in a refresh answer issues none: the old one is kept.
		if v, present := lookupPath(doc, paths.Refresh); present && v != nil || login {
			rt, err := str(paths.Refresh)
			if err != nil {
				return Answer{}, err
			}
			p.Refresh = session.ParseToken(rt, serverRecv, 0)
			p.Rotated = true
		}
	}
	return p, nil
}

// readOAuthFields reads the members RFC 6749 §5.1 and OpenID Connect add beside the tokens,
// when they are strings: token_type, scope, id_token.
func (p *Answer) readOAuthFields(doc any, serverRecv time.Time) {
	str := func(name string) string {
		v, _ := lookupPath(doc, name)
		s, _ := v.(string)
		return s
	}
	p.TokenType, p.Scope = str("token_type"), str("scope")
	if s := str("id_token"); s != "" {
		p.IDToken = session.ParseToken(s, serverRecv, 0)
	}
}

// shapeOf names the top-level fields of a JSON answer, never their values.
func shapeOf(doc any) string {
	m, ok := doc.(map[string]any)
	if !ok {
		return "the answer is a JSON " + jsonType(doc)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, strconv.Quote(k))
	}
	sort.Strings(keys)
	if len(keys) > 12 {
		keys = append(keys[:12], "…")
	}
	if len(keys) == 0 {
		return "the answer is an empty object"
	}
	return "its fields: " + strings.Join(keys, ", ")
}

func jsonType(v any) string {
	switch v.(type) {
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", v)
}

// Snippet is the start of a body, printable and short, for error messages.
func Snippet(b []byte) string {
	const n = 80
	s := string(b)
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strconv.Quote(s)
}
