package httpfile

// Postman collections (v2.0 and v2.1 JSON) as request presets, as .http files are: folders
// flattened into "folder / name", {{variables}} from the collection substituted, absolute URLs
// cut to their path and query (the engine sends to its own target), the collection's own auth
// left out (the session's token goes on every request).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"tokenscope/apiclient/profile"
)

// IsPostman says whether data is a Postman collection: a JSON object whose info names a
// getpostman.com schema.
func IsPostman(data []byte) bool {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	var doc struct {
		Info struct {
			Schema string `json:"schema"`
		} `json:"info"`
	}
	return json.Unmarshal(t, &doc) == nil && strings.Contains(doc.Info.Schema, "getpostman.com")
}

type pmCollection struct {
	Item     []pmItem `json:"item"`
	Variable []pmVar  `json:"variable"`
}

type pmVar struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type pmItem struct {
	Name    string          `json:"name"`
	Item    []pmItem        `json:"item"` // a folder
	Request json.RawMessage `json:"request"`
}

type pmRequest struct {
	Method string          `json:"method"`
	Header []pmKV          `json:"header"`
	URL    json.RawMessage `json:"url"`
	Body   *struct {
		Mode       string `json:"mode"`
		Raw        string `json:"raw"`
		URLEncoded []pmKV `json:"urlencoded"`
		Options    struct {
			Raw struct {
				Language string `json:"language"`
			} `json:"raw"`
		} `json:"options"`
	} `json:"body"`
}

type pmKV struct {
	Key      string `json:"key"`
	Value    string `json:"value"`
	Disabled bool   `json:"disabled"`
}

var pmVarRef = regexp.MustCompile(`\{\{\s*([^{}\s]+)\s*\}\}`)

// ParsePostman reads a Postman collection. vars override the collection's variables.
func ParsePostman(name string, data []byte, vars map[string]string) ([]NamedRequest, error) {
	if len(data) > maxHTTPFileBytes {
		return nil, tooLarge(name)
	}
	var c pmCollection
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: not a Postman collection: %v", name, err)
	}
	defs := map[string]string{}
	for _, v := range c.Variable {
		defs[v.Key] = fmt.Sprint(v.Value)
	}
	for k, v := range vars {
		defs[k] = v
	}
	expand := func(s string) string {
		return pmVarRef.ReplaceAllStringFunc(s, func(m string) string {
			if v, ok := defs[pmVarRef.FindStringSubmatch(m)[1]]; ok {
				return v
			}
			return m
		})
	}
	var out []NamedRequest
	var walk func(items []pmItem, prefix string) error
	walk = func(items []pmItem, prefix string) error {
		for _, it := range items {
			full := strings.TrimPrefix(prefix+" / "+it.Name, " / ")
			if it.Item != nil {
				if err := walk(it.Item, full); err != nil {
					return err
				}
				continue
			}
			r, err := pmToRequest(it.Request, expand)
			if err != nil {
				return fmt.Errorf("%s: %q: %v", name, full, err)
			}
			r.Name = full
			out = append(out, NamedRequest{Name: full, Request: r})
		}
		return nil
	}
	if err := walk(c.Item, ""); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: the collection holds no requests", name)
	}
	return out, nil
}

// pmToRequest reads one request: a plain string (a GET of that URL) or the object form.
func pmToRequest(raw json.RawMessage, expand func(string) string) (profile.Request, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return profile.Request{Method: http.MethodGet, Path: pmPath(expand(s))}, nil
	}
	var pr pmRequest
	if err := json.Unmarshal(raw, &pr); err != nil {
		return profile.Request{}, err
	}
	r := profile.Request{Method: http.MethodGet, Header: http.Header{}, Path: pmPath(expand(pmURL(pr.URL)))}
	if pr.Method != "" {
		m, err := profile.CheckMethod(pr.Method)
		if err != nil {
			return profile.Request{}, err
		}
		r.Method = m
	}
	for _, h := range pr.Header {
		k := http.CanonicalHeaderKey(expand(h.Key))
		if h.Disabled || k == "" || k == "Authorization" || k == "Cookie" {
			continue // the session sends its own token
		}
		r.Header.Add(k, expand(h.Value))
	}
	if b := pr.Body; b != nil {
		switch b.Mode {
		case "raw":
			r.Body = []byte(expand(b.Raw))
			if b.Options.Raw.Language == "json" && r.Header.Get("Content-Type") == "" {
				r.Header.Set("Content-Type", "application/json")
			}
		case "urlencoded":
			form := url.Values{}
			for _, kv := range b.URLEncoded {
				if !kv.Disabled {
					form.Add(expand(kv.Key), expand(kv.Value))
				}
			}
			r.Body = []byte(form.Encode())
			if r.Header.Get("Content-Type") == "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
		case "", "none":
		default:
			return r, fmt.Errorf("body mode %q is not supported (raw and urlencoded are)", b.Mode)
		}
	}
	return r, nil
}

// pmURL is a request's URL: a string, or the object form's raw.
func pmURL(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var u struct {
		Raw string `json:"raw"`
	}
	_ = json.Unmarshal(raw, &u)
	return u.Raw
}

// pmPath keeps a URL's path and query: "https://api.example.com/v1/me?x=1" → "/v1/me?x=1". A
// host left as an unknown {{variable}} is cut the same way.
func pmPath(raw string) string {
	raw = strings.TrimSpace(raw)
	if i := strings.Index(raw, "://"); i >= 0 {
		raw = raw[i+3:]
		if j := strings.IndexAny(raw, "/?"); j >= 0 {
			raw = raw[j:]
		} else {
			raw = "/"
		}
	} else if strings.HasPrefix(raw, "{{") {
		if j := strings.Index(raw, "}}"); j >= 0 {
			raw = raw[j+2:]
		}
	}
	if !strings.HasPrefix(raw, "/") {
		raw = "/" + raw
	}
	return raw
}
