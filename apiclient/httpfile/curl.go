package httpfile

// A curl command pasted into the composer becomes a request: method, the URL's path and
// query, headers and body. What curl does beyond that (cookies, TLS, output) is not a request's
// business and is refused by name, so nothing is silently lost.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"tokenscope/apiclient/profile"
)

// CurlRequest is a request read from a curl command, with what the reader left out on purpose.
type CurlRequest struct {
	Request profile.Request
	Host    string   // the URL's scheme and host: requests go to the target, not here
	Dropped []string // what was not taken, in words ("the Authorization header: tokenscope sends its own token")
}

// IsCurl says whether text looks like a curl command.
func IsCurl(text string) bool {
	t := strings.TrimSpace(text)
	return t == "curl" || strings.HasPrefix(t, "curl ") || strings.HasPrefix(t, "curl\t") || strings.HasPrefix(t, "curl\\")
}

// ParseCurl reads a curl command line as a shell would split it (single and double quotes,
// backslash escapes and line continuations).
func ParseCurl(text string) (CurlRequest, error) {
	words, err := shellWords(text)
	if err != nil {
		return CurlRequest{}, err
	}
	if len(words) == 0 || words[0] != "curl" {
		return CurlRequest{}, errors.New("not a curl command")
	}
	c := &curlReader{out: CurlRequest{Request: profile.Request{Header: http.Header{}}}}
	for i := 1; i < len(words); i++ {
		n, err := c.word(words, i)
		if err != nil {
			return CurlRequest{}, err
		}
		i += n
	}
	return c.finish()
}

type curlReader struct {
	out    CurlRequest
	method string
	rawURL string
	body   []string
	get    bool // -G: the data goes into the query
}

// valueFlags take the next word as their value.
var valueFlags = map[string]string{
	"-X": "method", "--request": "method", "-H": "header", "--header": "header",
	"-d": "data", "--data": "data", "--data-raw": "data", "--data-binary": "data", "--data-ascii": "data",
	"--json": "json", "--url": "url", "-u": "user", "--user": "user", "-A": "agent", "--user-agent": "agent",
	"-e": "referer", "--referer": "referer", "-b": "cookie", "--cookie": "cookie", "--data-urlencode": "urlencode",
}

// droppedWithValue are curl options that take a value but do not change the request.
var droppedWithValue = map[string]bool{
	"--retry": true, "--retry-delay": true, "--retry-max-time": true, "-m": true, "--max-time": true,
	"--connect-timeout": true, "-o": true, "--output": true, "--cacert": true, "--capath": true, "-E": true,
	"--cert": true, "--key": true, "-x": true, "--proxy": true, "-w": true, "--write-out": true,
	"--limit-rate": true, "--resolve": true, "--connect-to": true, "-c": true, "--cookie-jar": true,
}

// word reads the flag at i; n is how many words after it it took.
func (c *curlReader) word(words []string, i int) (n int, err error) {
	w := words[i]
	if !strings.HasPrefix(w, "-") || w == "-" {
		if c.rawURL != "" {
			return 0, fmt.Errorf("two URLs (%q and %q): give one", c.rawURL, w)
		}
		c.rawURL = w
		return 0, nil
	}
	name, val, inline := strings.Cut(w, "=")
	kind, takes := valueFlags[name]
	if !takes || !strings.HasPrefix(name, "--") {
		name, val, inline = w, "", false
		kind, takes = valueFlags[name]
		if !takes && len(w) > 2 && !strings.HasPrefix(w, "--") { // -XPOST, -H'...'
			kind, takes = valueFlags[w[:2]]
			name, val, inline = w[:2], w[2:], takes
		}
	}
	if !takes {
		if droppedWithValue[name] && !inline && i+1 < len(words) {
			c.out.Dropped = append(c.out.Dropped, name+" "+words[i+1])
			return 1, nil
		}
		return 0, c.plainFlag(w)
	}
	if !inline {
		if i+1 >= len(words) {
			return 0, fmt.Errorf("%s needs a value", name)
		}
		val, n = words[i+1], 1
	}
	return n, c.value(kind, name, val)
}

func (c *curlReader) value(kind, name, val string) error {
	h := &c.out.Request
	switch kind {
	case "method":
		m, err := profile.CheckMethod(val)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		c.method = m
	case "header":
		k, v, ok := strings.Cut(val, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("%s %q: want 'Name: value'", name, val)
		}
		k = http.CanonicalHeaderKey(strings.TrimSpace(k))
		if k == "Authorization" || k == "Cookie" {
			c.out.Dropped = append(c.out.Dropped, "the "+k+" header: tokenscope sends the session's own token")
			return nil
		}
		h.Header.Add(k, strings.TrimSpace(v))
	case "data", "urlencode":
		if strings.HasPrefix(val, "@") {
			return fmt.Errorf("%s %s reads a file: paste the body itself", name, val)
		}
		if kind == "urlencode" {
			k, v, ok := strings.Cut(val, "=")
			val = url.QueryEscape(val)
			if ok {
				val = k + "=" + url.QueryEscape(v)
			}
		}
		c.body = append(c.body, val)
	case "json":
		c.body = append(c.body, val)
		if h.Header.Get("Content-Type") == "" {
			h.Header.Set("Content-Type", "application/json")
		}
		if h.Header.Get("Accept") == "" {
			h.Header.Set("Accept", "application/json")
		}
	case "url":
		c.rawURL = val
	case "agent":
		h.Header.Set("User-Agent", val)
	case "referer":
		h.Header.Set("Referer", val)
	case "user", "cookie":
		c.out.Dropped = append(c.out.Dropped, name+": tokenscope sends the session's own credentials")
	}
	return nil
}

// plainFlag is a flag without a value: the ones that change the request are taken, the rest
// (output, verbosity, TLS, redirects) are noted.
func (c *curlReader) plainFlag(w string) error {
	switch w {
	case "-G", "--get":
		c.get = true
	case "-I", "--head":
		c.method = http.MethodHead
	case "-s", "--silent", "-S", "--show-error", "-v", "--verbose", "-i", "--include", "-L", "--location",
		"--compressed", "-k", "--insecure", "-f", "--fail", "--fail-with-body", "-sS", "-Ss":
	default:
		c.out.Dropped = append(c.out.Dropped, w)
	}
	return nil
}

func (c *curlReader) finish() (CurlRequest, error) {
	if c.rawURL == "" {
		return CurlRequest{}, errors.New("no URL in the curl command")
	}
	u, err := url.Parse(c.rawURL)
	if err != nil {
		return CurlRequest{}, fmt.Errorf("URL %q: %v", c.rawURL, err)
	}
	if u.Scheme != "" && u.Host != "" {
		c.out.Host = u.Scheme + "://" + u.Host
	}
	r := &c.out.Request
	body := strings.Join(c.body, "&")
	if c.get && body != "" {
		u.RawQuery = strings.Trim(u.RawQuery+"&"+body, "&")
		body = ""
	}
	r.Path = u.EscapedPath()
	if r.Path == "" {
		r.Path = "/"
	}
	if u.RawQuery != "" {
		r.Path += "?" + u.RawQuery
	}
	r.Method = c.method
	switch {
	case r.Method != "":
	case body != "":
		r.Method = http.MethodPost // curl -d without -X posts
	default:
		r.Method = http.MethodGet
	}
	if body != "" {
		r.Body = []byte(body)
		if r.Header.Get("Content-Type") == "" && len(c.body) > 0 {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded") // as curl -d sends
		}
	}
	return c.out, nil
}

// shellWords splits a command line as a POSIX shell would, without expansions: quotes group,
// backslash escapes outside single quotes, a backslash-newline continues the line.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\\' && i+1 < len(rs):
			i++
			if rs[i] != '\n' && !(quote == '"' && !strings.ContainsRune("\"\\$`", rs[i])) {
				cur.WriteRune(rs[i])
			} else if rs[i] != '\n' {
				cur.WriteRune('\\')
				cur.WriteRune(rs[i])
			}
			inWord = inWord || rs[i] != '\n'
		case quote == '"':
			if r == '"' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c quote in the curl command", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
