package main

import (
	"strings"
	"testing"
)

// TestURLPasswordRefusedOnCommandLine: a password in a URL's userinfo on the command line is
// refused like any password in argv (status 2), without echoing it, with advice on where the
// URL can go; a user name alone is fine, and so is the same URL from TOKENSCOPE_TARGET.
func TestURLPasswordRefusedOnCommandLine(t *testing.T) {
	t.Setenv("TS_TEST_URLPW", "pw")
	const secret = "s3cret-in-url"
	creds := []string{"--user", "bob", "--password-env", "TS_TEST_URLPW"}
	for _, c := range []struct {
		args    []string
		flag    string
		instead string
	}{
		{append([]string{"fire", "--target", "http://bob:" + secret + "@127.0.0.1:1"}, creds...), "--target", "TOKENSCOPE_TARGET"},
		{append([]string{"--target", "http://bob:" + secret + "@127.0.0.1:1"}, creds...), "--target", "TOKENSCOPE_TARGET"},
		{[]string{"fire", "--verify-jwks", "http://k:" + secret + "@127.0.0.1:1/jwks"}, "--verify-jwks", "verify_jwks"},
		{[]string{"--verify-jwks", "https://k:" + secret + "@127.0.0.1:1/jwks"}, "--verify-jwks", "verify_jwks"},
	} {
		out, errOut, code := executeCLI(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.flag) || !strings.Contains(errOut, "holds a password") || !strings.Contains(errOut, c.instead) {
			t.Errorf("%v: exit %d, stderr %q; want 2, naming %s and advising %s", c.args, code, errOut, c.flag, c.instead)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%v: the refusal printed the password: %q", c.args, errOut)
		}
	}

	// A user without a password is no secret; the run goes on (and fails to connect).
	_, errOut, _ := executeCLI(t, append([]string{"fire", "--timeout", "2s", "--target", "http://bob@127.0.0.1:1"}, creds...)...)
	if strings.Contains(errOut, "holds a password") {
		t.Errorf("a URL with a user name only was refused: %q", errOut)
	}
	// The environment is not argv: TOKENSCOPE_TARGET may hold it, and it is not printed.
	t.Setenv("TOKENSCOPE_TARGET", "http://bob:"+secret+"@127.0.0.1:1")
	out, errOut, _ := executeCLI(t, append([]string{"fire", "--timeout", "2s"}, creds...)...)
	if strings.Contains(errOut, "holds a password") || strings.Contains(out+errOut, secret) {
		t.Errorf("TOKENSCOPE_TARGET with a password: stdout %q stderr %q", out, errOut)
	}
}

// TestConfigShowMasksURLPassword: config show masks a password in a target's url (and a
// default_target URL); a file readable by others may not hold one at all.
func TestConfigShowMasksURLPassword(t *testing.T) {
	const secret = "s3cret-in-url"
	body := "default_target = \"http://bob:" + secret + "@127.0.0.1:8000\"\n[targets.gw]\nurl = \"http://bob:" + secret + "@127.0.0.1:8000\"\nuser = \"u\"\npassword_env = \"X\"\n"
	p := writeConfig(t, body, 0o600)
	out, errOut, code := executeCLI(t, "config", "show", "--config", p)
	if code != 0 || strings.Contains(out+errOut, secret) || !strings.Contains(out, "http://bob:xxxxx@127.0.0.1:8000") {
		t.Errorf("config show: exit %d\n%s%s", code, out, errOut)
	}
	p = writeConfig(t, body, 0o644)
	out, errOut, code = executeCLI(t, "config", "show", "--config", p)
	if code == 0 || !strings.Contains(errOut, "holds a password") || !strings.Contains(errOut, "chmod 600") || strings.Contains(out+errOut, secret) {
		t.Errorf("config show of a readable file with a URL password: exit %d\n%s%s", code, out, errOut)
	}
}
