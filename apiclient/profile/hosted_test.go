package profile

import (
	"strings"
	"testing"
)

// TestJSONBodyNesting: dotted fields nest under the json members; the same fields give the
// same body.
func TestJSONBodyNesting(t *testing.T) {
	p, _ := Builtin("cognito")
	got := string(p.Refresh.jsonBody(map[string]string{"AuthParameters.REFRESH_TOKEN": "R", "ClientId": "C"}))
	want := `{"AuthFlow":"REFRESH_TOKEN_AUTH","AuthParameters":{"REFRESH_TOKEN":"R"},"ClientId":"C"}`
	if got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
	if b, _ := Builtin("cognito"); len(b.Refresh.JSON) != 1 {
		t.Fatal("jsonBody wrote into the built-in")
	}
}

func TestParseProfileHostedKeys(t *testing.T) {
	t.Setenv("MY_KEY", "k-123456")
	p, err := Parse("custom.toml", []byte(`
[login]
path = "https://auth.example.com/v1/login"
send = "json"
user_field = "creds.user"
password_field = "creds.pass"
content_type = "application/vnd.example+json"
query = {tenant = "acme"}
query_env = {key = "MY_KEY"}
headers = {X-Client = "tokenscope"}
headers_env = {X-Api-Key = "MY_KEY"}
extra_env = {client = "MY_KEY"}
json = {remember = true, meta = {version = 2}}
tokens = {access = "login.token"}
[refresh]
url_env = "MY_REFRESH_URL"
send = "json"
token_field = "refresh"
[tokens]
access = "token"
refresh = "refresh"
expires_in = "ttl"
[auth]
header = "Authorization"
scheme = "Bearer"
headers = {X-Tenant = "acme"}
headers_env = {X-Api-Key = "MY_KEY"}
[access_expired]
status = [401]
[refresh_rejected]
status = [400]
field = "error.message"
values = ["TOKEN_EXPIRED"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Login.Query["tenant"] != "acme" || p.Login.QueryEnv["key"] != "MY_KEY" || p.Login.JSON["remember"] != true ||
		p.Login.Tokens.Access != "login.token" || p.Refresh.URLEnv != "MY_REFRESH_URL" || p.Auth.HeadersEnv["X-Api-Key"] != "MY_KEY" {
		t.Fatalf("keys not read: %+v", p)
	}
	if tp := p.TokenPaths(p.Login); tp.Access != "login.token" || tp.Refresh != "refresh" || tp.ExpiresIn != "ttl" {
		t.Fatalf("login token paths %+v", tp)
	}
}

func TestParseProfileHostedKeyErrors(t *testing.T) {
	base := "base = \"bearer-json\"\n"
	for _, c := range []struct{ toml, want string }{
		{"[login]\npath = \"http://auth.example.com/login\"", "loopback"},
		{"[login]\npath = \"ftp://auth.example.com/login\"", "scheme"},
		{"[login]\npath = \"login\"", "must start with /"},
		{"[login]\nquery_env = {key = \"not a name\"}", "not an environment variable name"},
		{"[login]\nheaders = {\"Content-Type\" = \"x\"}", "content_type"},
		{"[login]\nheaders = {\"Bad Name\" = \"x\"}", "not a header name"},
		{"[login]\nsend = \"form\"\njson = {a = 1}", "needs a JSON body"},
		{"[login]\nuser_field = \"a\"\njson = {a = {b = 1}}", "overlap"},
		{"[login]\ncontent_type = \"/\"", "content_type"},
		{"[refresh]\nurl_env = \"1X\"", "not an environment variable name"},
		{"[auth]\nheaders = {Authorization = \"x\"}", "where the access token goes"},
		{"[login]\nquery_envs = {a = \"B\"}", "unknown keys"},
	} {
		_, err := Parse("p.toml", []byte(base+c.toml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error containing %q", c.toml, err, c.want)
		}
	}
}

// TestHostedBuiltinsValidate: every built-in passes its own checks, and an overlay of one
// changes a copy.
func TestHostedBuiltinsValidate(t *testing.T) {
	for _, n := range AllNames() {
		p, _ := Builtin(n)
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	// Maps merge over the base's; a json table, free-form, replaces the base's.
	p, err := Parse("o.toml", []byte("base = \"firebase\"\n[login]\nquery = {tenant = \"t\"}\njson = {returnSecureToken = true, tenantId = \"t\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Login.QueryEnv["key"] != "FIREBASE_API_KEY" || p.Login.Query["tenant"] != "t" || len(p.Login.JSON) != 2 || p.Login.JSON["tenantId"] != "t" {
		t.Fatalf("overlay lost the base's keys: %+v", p.Login.EndpointExtras)
	}
	if b, _ := Builtin("firebase"); b.Login.Query != nil || len(b.Login.JSON) != 1 {
		t.Fatalf("overlay wrote into the built-in: %+v", b.Login.EndpointExtras)
	}
}
