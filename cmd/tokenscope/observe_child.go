package main

// observe [flags] -- CMD ARGS...: CMD runs with the forward proxy and tokenscope's CA in its
// environment; its stdin, stdout and stderr are its own, observe speaks on stderr after it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"tokenscope/apiclient/observe"
)

// observeChild runs CMD through the proxy and returns its exit status (or 1 when --fail-on
// matched).
func observeChild(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, o *observeOpts, p *observe.Proxy, srv *http.Server) error {
	dir, err := observe.DefaultCADir()
	if err != nil {
		return err
	}
	bundle := filepath.Join(dir, observe.CABundleFile)
	c := exec.CommandContext(ctx, o.child[0], o.child[1:]...)
	c.Env = childEnv(os.Environ(), observe.ProxyEnv(p.Listen(), bundle, observe.NoProxyWithoutLoopback(noProxyOf(os.Environ()))))
	c.Stdin, c.Stdout, c.Stderr = stdin, rawOf(stdout), rawOf(stderr)
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	// The findings as they come, one line each: CMD's output is on stdout and its own stderr,
	// and observe adds only what to act on.
	findings := startPrinter(stderr, p.Log(), printFindings, nil)
	jf, err := startJSONFile(o.jsonFile, p)
	if err != nil {
		findings.finish()
		return err
	}
	if err := c.Start(); err != nil {
		findings.finish()
		_ = jf.finish(p.Summary())
		return &exitError{code: 127, err: fmt.Errorf("%s: %w", o.child[0], err)}
	}
	stopSignals := forwardSignals(c.Process)
	waitErr := c.Wait()
	stopSignals()
	stopProxy(srv, p)
	findings.finish()
	s := p.Summary()
	if err := jf.finish(s); err != nil {
		fmt.Fprintf(stderr, "tokenscope: --json-file: %v\n", err)
	}
	fmt.Fprintf(stderr, "tokenscope observe: %s\n", s.Text())
	if err := failOnVerdict(o.failOn, s); err != nil {
		return err
	}
	return childStatus(o.child[0], waitErr)
}

// childStatus is CMD's exit status as tokenscope's: 0, its code, or 128+N for signal N.
func childStatus(name string, err error) error {
	var ee *exec.ExitError
	if err == nil {
		return nil
	}
	if !errors.As(err, &ee) {
		return &exitError{code: 1, err: fmt.Errorf("%s: %w", name, err)}
	}
	code := ee.ExitCode()
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	return &exitError{code: code, err: fmt.Errorf("%s exited with status %d", name, code)}
}

// childVars are the variables ProxyEnv sets; CMD's environment drops the user's own values of
// them (in any case: HTTPS_PROXY and https_proxy are one variable to most clients).
func childEnv(parent, ours []string) []string {
	set := map[string]bool{}
	for _, kv := range ours {
		k, _, _ := strings.Cut(kv, "=")
		set[strings.ToUpper(k)] = true
	}
	env := make([]string, 0, len(parent)+len(ours))
	for _, kv := range parent {
		if k, _, _ := strings.Cut(kv, "="); !set[strings.ToUpper(k)] {
			env = append(env, kv)
		}
	}
	return append(env, ours...)
}

// noProxyOf is the user's NO_PROXY (or no_proxy).
func noProxyOf(env []string) string {
	for _, k := range []string{"NO_PROXY=", "no_proxy="} {
		for _, kv := range env {
			if strings.HasPrefix(kv, k) {
				return kv[len(k):]
			}
		}
	}
	return ""
}

// rawOf is w without the sanitizer: CMD's output is CMD's, passed through as it is.
func rawOf(w io.Writer) io.Writer {
	if g, ok := w.(*guarded); ok {
		return g.raw
	}
	return w
}

// forwardSignals passes the signals sent to observe on to CMD until stop is called. SIGINT and
// SIGQUIT from the terminal reach CMD by themselves (it is in the foreground process group):
// those are passed on only when observe is not in the foreground (kill -INT from elsewhere).
func forwardSignals(proc *os.Process) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	done := make(chan struct{})
	fromTerminal := isTerminal(os.Stdin) && inForeground(os.Stdin)
	go func() {
		for {
			select {
			case sig := <-ch:
				if fromTerminal && (sig == os.Interrupt || sig == syscall.SIGQUIT) {
					continue
				}
				_ = proc.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
