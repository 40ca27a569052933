package observe

// A client's environment for the forward proxy: the proxy variables, NO_PROXY without loopback,
// and the CA variables of the usual libraries, as NAME=value and as lines to paste.

import (
	"net"
	"strings"

	"tokenscope/internal/hostcheck"
)

// ProxyEnv is the environment that routes a client through the forward proxy at proxyURL and
// has it trust bundle (a PEM file of the system's roots and tokenscope's CA), as NAME=value: the
// proxy variables in both cases, NO_PROXY and no_proxy set to noProxy (give it the user's list
// without loopback: NoProxyWithoutLoopback), and the CA variables of OpenSSL, Node, Python
// requests, curl and git.
func ProxyEnv(proxyURL, bundle, noProxy string) []string {
	env := make([]string, 0, 11)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		env = append(env, k+"="+proxyURL)
	}
	env = append(env, "NO_PROXY="+noProxy, "no_proxy="+noProxy)
	for _, k := range []string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"} {
		env = append(env, k+"="+bundle)
	}
	return env
}

// NoProxyWithoutLoopback is a NO_PROXY list without its loopback entries (localhost,
// 127.0.0.0/8, ::1): local APIs then go through the proxy and are seen, other exceptions stay.
func NoProxyWithoutLoopback(list string) string {
	var keep []string
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		h := strings.TrimPrefix(e, ".")
		if hh, _, err := net.SplitHostPort(e); err == nil {
			h = hh
		}
		h, _, _ = strings.Cut(h, "/") // a CIDR range: its address
		if e == "" || hostcheck.IsLoopbackHost(h) || strings.HasSuffix(strings.ToLower(h), ".localhost") {
			continue
		}
		keep = append(keep, e)
	}
	return strings.Join(keep, ",")
}

// Exports are env's variables as lines for a POSIX shell.
func Exports(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, "export "+k+"="+shellQuote(v))
	}
	return out
}

// shellQuote quotes v for a POSIX shell when it needs it.
func shellQuote(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._:-+=@,", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
