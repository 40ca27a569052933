package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"tokenscope/apiclient/profile"
)

// TestProfileInitParsesBack: the annotated profile parses, alone and over every built-in (a
// --base file with every key commented out is the built-in itself), and is never overwritten.
func TestProfileInitParsesBack(t *testing.T) {
	dir := t.TempDir()
	for _, base := range append([]string{""}, profile.AllNames()...) {
		f := filepath.Join(dir, "p-"+base+".toml")
		args := []string{"profile", "init", f}
		if base != "" {
			args = []string{"profile", "init", "--base", base, f}
		}
		if out, _, err := run(context.Background(), args...); err != nil || !strings.Contains(out, "profile check") {
			t.Fatalf("%v: %q %v", args, out, err)
		}
		if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v", fi.Mode().Perm())
		}
		p, err := profile.Load(f)
		if err != nil {
			t.Fatalf("base %q: %v", base, err)
		}
		want := exampleProfile
		if base != "" {
			want, _ = profile.Builtin(base)
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("base %q: read back as\n%+v\nwant\n%+v", base, p, want)
		}
		if _, _, err := run(context.Background(), args...); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("second init: %v", err)
		}
	}
}

// TestProfileShowParsesBack: a built-in printed as a standalone file is that built-in.
func TestProfileShowParsesBack(t *testing.T) {
	for _, n := range profile.AllNames() {
		out, _, err := run(context.Background(), "profile", "show", n)
		if err != nil {
			t.Fatal(err)
		}
		p, err := profile.Parse(n, []byte(out))
		want, _ := profile.Builtin(n)
		if err != nil || !reflect.DeepEqual(p, want) {
			t.Errorf("%s: %v\n%+v\nwant\n%+v", n, err, p, want)
		}
	}
}

// TestProfileTemplateHasEveryKey: every TOML key of the profile format is in the template with
// a comment, so that the documentation cannot fall behind the parser.
func TestProfileTemplateHasEveryKey(t *testing.T) {
	text := profileTemplate(exampleProfile, "")
	for _, typ := range []reflect.Type{reflect.TypeOf(profile.Profile{}), reflect.TypeOf(profile.Endpoint{}),
		reflect.TypeOf(profile.EndpointExtras{}), reflect.TypeOf(profile.TokenPaths{}), reflect.TypeOf(profile.AuthHeader{}),
		reflect.TypeOf(profile.AuthExtras{}), reflect.TypeOf(profile.Matcher{}), reflect.TypeOf(profile.Preset{})} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" || (f.Type.Kind() == reflect.Struct && tag != "tokens") || f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
				continue // a table: its keys are checked with its own type
			}
			if !strings.Contains(text, "\n"+tag+" = ") && !strings.Contains(text, "\n# "+tag+" = ") {
				t.Errorf("template lacks the key %s (%s)", tag, typ.Name())
			}
		}
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, " = ") && !strings.Contains(l, "   # ") && !strings.HasPrefix(l, "base =") {
			t.Errorf("key without a comment: %q", l)
		}
	}
}

func TestProfileCheckExplains(t *testing.T) {
	t.Setenv("FIREBASE_API_KEY", "AIza-secret-value-never-printed")
	out, _, err := run(context.Background(), "profile", "check", "firebase")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"login: POST https://identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=$FIREBASE_API_KEY\n",
		`  body: JSON (application/json) {"email":"<user>","password":"<password>","returnSecureToken":true}` + "\n",
		"  reads: access token at idToken, refresh token at refreshToken, expires_in at expiresIn\n",
		"refresh: POST https://securetoken.googleapis.com/v1/token?key=$FIREBASE_API_KEY\n",
		"  body: form (application/x-www-form-urlencoded) grant_type=refresh_token&refresh_token=<refresh token>\n",
		"requests (to the target): Authorization: Bearer <access token>\n",
		"countdown: from the access token's exp claim when it is a JWT, else from expires_in (expiresIn, expires_in;",
		"refresh rejected (login required, requests parked): status 400 and JSON field error.message is one of TOKEN_EXPIRED,",
		"environment: FIREBASE_API_KEY (set);",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check firebase lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "AIza-secret") {
		t.Error("check printed an environment value")
	}
}

func TestProfileCheckFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "cognito.toml")
	if _, _, err := run(context.Background(), "profile", "init", "--base", "cognito", f); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COGNITO_ENDPOINT", "")
	out, _, err := run(context.Background(), "profile", "check", f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"login: POST $COGNITO_ENDPOINT\n",
		"  headers: X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth\n",
		`  body: JSON (application/x-amz-json-1.1) {"AuthFlow":"REFRESH_TOKEN_AUTH","AuthParameters":{"REFRESH_TOKEN":"<refresh token>"},"ClientId":"$COGNITO_CLIENT_ID"}`,
		"refresh token at AuthenticationResult.RefreshToken when present (rotation; else the old one is kept)",
		"JSON field __type is one of NotAuthorizedException",
		"COGNITO_ENDPOINT (NOT SET)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check lacks %q:\n%s", want, out)
		}
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("base = \"supabase\"\n[login]\nquery_env = {key = \"has space\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(context.Background(), "profile", "check", bad); err == nil || !strings.Contains(err.Error(), "login.query_env.key") {
		t.Errorf("bad profile: %v", err)
	}
}

func TestProfileListAndShow(t *testing.T) {
	out, _, err := run(context.Background(), "profile", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range profile.AllNames() {
		if !strings.Contains(out, n+" ") {
			t.Errorf("list lacks %s:\n%s", n, out)
		}
	}
	if _, _, err := run(context.Background(), "profile", "show", "nope"); exitCode(err) != 2 {
		t.Errorf("show nope: %v", err)
	}
	if _, _, err := run(context.Background(), "profile", "init", "--base", "nope"); exitCode(err) != 2 {
		t.Errorf("init --base nope: %v", err)
	}
}

// TestDocsProfilesParse keeps the documented profiles true: every TOML block of the profile-key
// and hosted-service pages, and of the README, that is a profile parses as one.
func TestDocsProfilesParse(t *testing.T) {
	total := 0
	for _, page := range []string{"../../docs/profiles.md", "../../docs/hosted.md", "../../README.md"} {
		doc, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range strings.Split(string(doc), "```toml\n")[1:] {
			b = b[:strings.Index(b, "```")]
			if strings.Contains(b, "[targets.") {
				continue // a config file, held by TestExamplesResolve
			}
			total++
			if _, err := profile.Parse(fmt.Sprintf("%s block %d", page, i+1), []byte(b)); err != nil {
				t.Errorf("%v", err)
			}
		}
	}
	if total < 6 {
		t.Fatalf("%d profile blocks in the docs; the check found too few to mean anything", total)
	}
}
