package main

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"tokenscope/apiclient/oidc"
	"tokenscope/internal/cappedfile"
	"tokenscope/session"
)

// keyFlags say where signature verification keys come from. decode and the target flags share
// them under different names: decode's --secret-env, --key, --jwks (and --secret) are the
// target's --verify-secret-env, --verify-key and --verify-jwks.
type keyFlags struct {
	prefix    string // "" for decode, "verify-" for the target flags
	argSecret bool   // --secret exists (decode only: a secret in argv is fine for test tokens)
	secret    string
	secretEnv string
	keyFile   string
	jwksURL   string
}

func (k *keyFlags) flag(name string) string { return "--" + k.prefix + name }

// exclusive refuses more than one key source; changed reports whether a flag (named without
// the prefix) was given.
func (k *keyFlags) exclusive(changed func(string) bool) error {
	names := []string{"secret-env", "key", "jwks"}
	if k.argSecret {
		names = append([]string{"secret"}, names...)
	}
	n := 0
	flags := make([]string, len(names))
	for i, name := range names {
		if changed(name) {
			n++
		}
		flags[i] = k.flag(name)
	}
	if n <= 1 {
		return nil
	}
	last := len(flags) - 1
	return usageError("give at most one of %s and %s", strings.Join(flags[:last], ", "), flags[last])
}

// local reads the keys that need no network: the secret from the environment or argv and the
// PEM key file. It returns a description of where they came from, for output.
func (k *keyFlags) local(changed func(string) bool) (session.Keys, string, error) {
	var keys session.Keys
	switch {
	case changed("secret-env"):
		keys.HMAC = []byte(os.Getenv(k.secretEnv))
		if len(keys.HMAC) == 0 {
			return keys, "", usageError("%s %s: the variable is empty or unset", k.flag("secret-env"), k.secretEnv)
		}
		return keys, k.flag("secret-env") + " " + k.secretEnv, nil
	case k.argSecret && changed("secret"):
		if k.secret == "" {
			return keys, "", usageError("%s: the secret is empty", k.flag("secret"))
		}
		keys.HMAC = []byte(k.secret)
		return keys, k.flag("secret"), nil
	case changed("key"):
		data, err := cappedfile.Read(k.keyFile, cappedfile.MaxConfigBytes)
		if err != nil {
			return keys, "", usageError("%s: %w", k.flag("key"), err)
		}
		if keys.Public, err = session.ParsePEMKeys(data); err != nil {
			return keys, "", usageError("%s %s: %w", k.flag("key"), k.keyFile, err)
		}
		return keys, k.flag("key") + " " + k.keyFile, nil
	}
	return keys, "", nil
}

// jwks checks the key set URL.
func (k *keyFlags) jwks() (*url.URL, error) {
	u, err := url.Parse(k.jwksURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError("%s %q: not an http or https URL", k.flag("jwks"), k.jwksURL)
	}
	return u, nil
}

// fetch downloads the key set through rt, a transport from transport.New: the same
// --ca-cert and --insecure as every other call.
func (k *keyFlags) fetch(ctx context.Context, rt http.RoundTripper, u *url.URL) (map[string]crypto.PublicKey, error) {
	set, err := oidc.FetchKeys(ctx, &http.Client{Transport: rt}, u.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.flag("jwks"), err)
	}
	return set, nil
}
