package audit

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/internal/clock"
)

// manualClock lets the audit wait on the demo server's manual clock: a wait advances it.
type manualClock struct{ c *clock.Manual }

func (m manualClock) Now() time.Time { return m.c.Now() }

func (m manualClock) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		m.c.Advance(d)
	}
	return ctx.Err()
}

// lab is a demo server on a loopback listener with a manual clock, and an audit target for it.
type testLab struct {
	srv   *demoserver.Server
	clock *clock.Manual
	tgt   Target
}

func newTestLab(t *testing.T, conv string, opts demoserver.Options, knobs demoserver.AuditKnobs) *testLab {
	t.Helper()
	c := clock.NewManual(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	opts.Clock = c
	srv, err := demoserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetAuditKnobs(knobs)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p, ok := profile.Builtin(conv)
	if !ok {
		t.Fatalf("no profile %s", conv)
	}
	api := p.PresetRequests()[0]
	return &testLab{srv: srv, clock: c, tgt: Target{BaseURL: ts.URL, Profile: p, Username: "demo", Password: "demo",
		ClientID: demoserver.DefaultClientID, API: api}}
}

func (tl *testLab) run(t *testing.T, s Settings, checks ...string) Report {
	t.Helper()
	s.Checks, s.Clock = checks, manualClock{tl.clock}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return Run(ctx, tl.tgt, s)
}

func result(t *testing.T, rep Report, id string) Result {
	t.Helper()
	for _, r := range rep.Checks {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no %s in the report", id)
	return Result{}
}

// valueJSON is a result's value as the JSON contract writes it.
func valueJSON(t *testing.T, r Result) map[string]any {
	t.Helper()
	b, err := json.Marshal(r.Value)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s's value %s is not an object", r.ID, b)
	}
	return m
}

func expect(t *testing.T, r Result, status Status) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: %s (%s), want %s; value %s\nevidence:\n%s", r.ID, r.Status, r.Summary, status, ValueText(r.Value), strings.Join(r.Evidence, "\n"))
	}
}

// TestDefaultsPass: against the demo server's defaults no check fails; the missing grace window
// and the race's revoked family are the warnings, and every value has the contract's shape.
func TestDefaultsPass(t *testing.T) {
	for _, conv := range []string{"simplejwt", "oauth2", "cookie", "element-admin"} {
		t.Run(conv, func(t *testing.T) {
			tl := newTestLab(t, conv, demoserver.Options{}, demoserver.AuditKnobs{})
			rep := tl.run(t, Settings{})
			if rep.Failed(false) {
				for _, r := range rep.Checks {
					if r.Status == Fail {
						expect(t, r, Warn)
					}
				}
			}
			if len(rep.Checks) != len(IDs())-len(ActiveIDs) {
				t.Errorf("%d checks ran, want all but the active ones", len(rep.Checks))
			}
			if r := result(t, rep, "rotation"); r.Value != "rotates" {
				t.Errorf("rotation = %v", r.Value)
			}
			g := result(t, rep, "grace")
			expect(t, g, Warn)
			if v := valueJSON(t, g); v["accepted_up_to_s"] != nil || v["rejected_from_s"] != 0.0 {
				t.Errorf("grace = %v, want refused at once", v)
			}
			reuse := valueJSON(t, result(t, rep, "reuse"))
			if reuse["previous_accepted"] != false || reuse["family_revoked"] != true {
				t.Errorf("reuse = %v", reuse)
			}
			c := valueJSON(t, result(t, rep, "concurrent_refresh"))
			if c["ok"] != 1.0 || c["rejected"] != 4.0 || c["family_revoked"] != true {
				t.Errorf("concurrent_refresh = %v", c)
			}
			if (conv == "cookie") != (c["loser_cleared_cookie"] != nil) {
				t.Errorf("loser_cleared_cookie = %v for %s", c["loser_cleared_cookie"], conv)
			}
			ax := result(t, rep, "access_expiry")
			expect(t, ax, Pass)
			if v := valueJSON(t, ax); v["enforced"] != true || v["leeway_s_max"].(float64) > 1 {
				t.Errorf("access_expiry = %v", v)
			}
			lt := valueJSON(t, result(t, rep, "lifetimes"))
			if lt["access_ttl_s"] != 30.0 || lt["iat_is_issue_time"] != true {
				t.Errorf("lifetimes = %v", lt)
			}
			expect(t, result(t, rep, "token_response_headers"), Pass)
			if conv != "element-admin" {
				expect(t, result(t, rep, "unauthorized_shape"), Pass)
			}
			wantStatus := map[string]Status{"oauth2": Pass, "simplejwt": Info, "cookie": Info, "element-admin": Info}[conv]
			expect(t, result(t, rep, "refresh_error_shape"), wantStatus)
			expect(t, result(t, rep, "logout"), map[bool]Status{true: Pass, false: Skip}[conv == "oauth2"])
			expect(t, result(t, rep, "cookie"), map[bool]Status{true: Pass, false: Skip}[conv == "cookie"])
			if rep.LoginsUsed < 8 || rep.LoginsUsed > 20 {
				t.Errorf("logins_used = %d", rep.LoginsUsed)
			}
		})
	}
}

// TestKnobsFail: each of the demo server's audit knobs turns the check it is for to its failing
// verdict, with the measured value right.
func TestKnobsFail(t *testing.T) {
	cases := []struct {
		name  string
		conv  string
		opts  demoserver.Options
		knobs demoserver.AuditKnobs
		s     Settings
		check string
		want  Status
		value func(t *testing.T, v map[string]any)
	}{
		{name: "no rotation", conv: "simplejwt", opts: demoserver.Options{NoRotation: true}, check: "rotation", want: Warn},
		{name: "reuse without revoking", conv: "simplejwt", opts: demoserver.Options{NoReuseDetection: true}, check: "reuse", want: Warn,
			value: func(t *testing.T, v map[string]any) {
				if v["previous_accepted"] != false || v["family_revoked"] != false {
					t.Errorf("reuse = %v", v)
				}
			}},
		{name: "refreshes not serialised", conv: "simplejwt", knobs: demoserver.AuditKnobs{RefreshRaceWindow: 500 * time.Millisecond},
			check: "concurrent_refresh", want: Fail,
			value: func(t *testing.T, v map[string]any) {
				if v["ok"].(float64) < 2 {
					t.Errorf("concurrent_refresh = %v, want several ok", v)
				}
			}},
		{name: "loser clears the cookie", conv: "cookie", knobs: demoserver.AuditKnobs{LoserClearsCookie: true}, check: "concurrent_refresh", want: Fail,
			value: func(t *testing.T, v map[string]any) {
				if v["loser_cleared_cookie"] != true || v["ok"] != 1.0 {
					t.Errorf("concurrent_refresh = %v", v)
				}
			}},
		{name: "cacheable tokens", conv: "oauth2", knobs: demoserver.AuditKnobs{CacheableTokens: true}, check: "token_response_headers", want: Fail,
			value: func(t *testing.T, v map[string]any) {
				if v["no_store"] != false || v["cache_control"] != nil {
					t.Errorf("token_response_headers = %v", v)
				}
			}},
		{name: "401 without WWW-Authenticate", conv: "simplejwt", knobs: demoserver.AuditKnobs{NoWWWAuthenticate: true}, check: "unauthorized_shape", want: Fail,
			value: func(t *testing.T, v map[string]any) {
				if v["status"] != 401.0 || v["www_authenticate"] != nil || v["code"] != "token_not_valid" {
					t.Errorf("unauthorized_shape = %v", v)
				}
			}},
		{name: "access leeway beyond max-wait", conv: "simplejwt", knobs: demoserver.AuditKnobs{AccessLeeway: 10 * time.Minute}, check: "access_expiry", want: Fail,
			value: func(t *testing.T, v map[string]any) {
				if v["enforced"] != false || v["leeway_s_max"] != nil {
					t.Errorf("access_expiry = %v", v)
				}
			}},
		{name: "accepts alg none", conv: "simplejwt", opts: demoserver.Options{AcceptAlgNone: true}, s: Settings{Active: true}, check: "token_acceptance", want: Fail,
			value: func(t *testing.T, v map[string]any) {
				want := map[string]any{"alg_none": "accepted", "no_signature": "rejected", "other_key": "rejected", "tampered": "rejected", "expired": "rejected"}
				for k, w := range want {
					if v[k] != w {
						t.Errorf("token_acceptance[%s] = %v, want %v", k, v[k], w)
					}
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := newTestLab(t, c.conv, c.opts, c.knobs)
			r := result(t, tl.run(t, c.s, c.check), c.check)
			expect(t, r, c.want)
			if c.value != nil {
				c.value(t, valueJSON(t, r))
			}
		})
	}
}

// TestGraceMeasured: a grace window is found between the largest delay accepted and the
// smallest refused, at most a factor of 2 apart, with the true window between; the reuse check
// then waits past it and still sees the family revoked, and a race inside it is fine.
func TestGraceMeasured(t *testing.T) {
	for _, grace := range []time.Duration{time.Second, 5 * time.Second, 20 * time.Second} {
		t.Run(grace.String(), func(t *testing.T) {
			tl := newTestLab(t, "simplejwt", demoserver.Options{}, demoserver.AuditKnobs{RotationGrace: grace})
			rep := tl.run(t, Settings{}, "grace", "reuse", "concurrent_refresh")
			g := result(t, rep, "grace")
			expect(t, g, Pass)
			v := valueJSON(t, g)
			acc, _ := v["accepted_up_to_s"].(float64)
			rej, _ := v["rejected_from_s"].(float64)
			if !(acc < grace.Seconds() && grace.Seconds() <= rej && rej <= 2*acc) {
				t.Errorf("grace %s measured as accepted up to %v, refused from %v", grace, v["accepted_up_to_s"], v["rejected_from_s"])
			}
			expect(t, result(t, rep, "reuse"), Pass)
			c := result(t, rep, "concurrent_refresh")
			expect(t, c, Pass)
			if cv := valueJSON(t, c); cv["ok"] != 5.0 {
				t.Errorf("concurrent_refresh inside the grace window = %v", cv)
			}
		})
	}
}

// TestAccessLeewayMeasured: a leeway inside --max-wait is measured within a factor of 2 and
// passes; without one the token is refused at once.
func TestAccessLeewayMeasured(t *testing.T) {
	tl := newTestLab(t, "simplejwt", demoserver.Options{}, demoserver.AuditKnobs{AccessLeeway: 20 * time.Second})
	r := result(t, tl.run(t, Settings{}, "access_expiry"), "access_expiry")
	expect(t, r, Pass)
	v := valueJSON(t, r)
	if max, _ := v["leeway_s_max"].(float64); v["enforced"] != true || max < 20 || max > 40 {
		t.Errorf("access_expiry with a 20 s leeway = %v", v)
	}
}

// TestActiveChecksNeedActive: token_acceptance runs only when asked with Active, and passes
// against the default server.
func TestActiveChecksNeedActive(t *testing.T) {
	tl := newTestLab(t, "simplejwt", demoserver.Options{}, demoserver.AuditKnobs{})
	rep := tl.run(t, Settings{}, "rotation")
	if len(rep.Checks) != 1 {
		t.Fatalf("checks = %+v", rep.Checks)
	}
	rep = tl.run(t, Settings{Active: true}, "token_acceptance")
	expect(t, result(t, rep, "token_acceptance"), Pass)
}

// TestEvidenceMasksTokens: the evidence names tokens by fingerprint, never by value.
func TestEvidenceMasksTokens(t *testing.T) {
	tl := newTestLab(t, "simplejwt", demoserver.Options{}, demoserver.AuditKnobs{})
	rep := tl.run(t, Settings{}, "rotation", "reuse")
	var b strings.Builder
	rep.Markdown(&b, "tokenscope audit")
	md := b.String()
	if !strings.Contains(md, "fp:") || !strings.Contains(md, "POST /api/token/refresh/") {
		t.Errorf("the evidence names no fingerprint or call:\n%s", md)
	}
	if strings.Contains(md, "eyJ") || strings.Contains(md, "demo\"") {
		t.Errorf("the evidence holds a token or the password:\n%s", md)
	}
}

// contract is the JSON contract: each check's value keys (nil: a string value).
var contract = map[string][]string{
	"rotation":                 nil,
	"reuse":                    {"previous_accepted", "family_revoked"},
	"grace":                    {"accepted_up_to_s", "rejected_from_s"},
	"concurrent_refresh":       {"parallel", "ok", "rejected", "family_revoked", "loser_cleared_cookie"},
	"access_expiry":            {"enforced", "leeway_s_max"},
	"old_access_after_refresh": nil,
	"lifetimes":                {"access_ttl_s", "refresh_ttl_s", "refresh_lifetime", "expires_in_matches_exp", "iat_is_issue_time"},
	"unauthorized_shape":       {"status", "www_authenticate", "code"},
	"refresh_error_shape":      {"status", "error"},
	"token_response_headers":   {"cache_control", "no_store"},
	"logout":                   {"refresh_revoked", "access_revoked"},
	"cookie":                   {"http_only", "secure", "same_site", "path"},
	"token_acceptance":         {"alg_none", "no_signature", "other_key", "tampered", "expired"},
}

// TestValueShapes: every check the demo server lets run (oauth2 for logout, cookie for the
// cookie) answers its value in exactly the contract's keys, in the card's order of ids.
func TestValueShapes(t *testing.T) {
	if got := IDs(); len(got) != len(contract) {
		t.Fatalf("ids %v, want the contract's %d", got, len(contract))
	}
	seen := map[string]bool{}
	for _, conv := range []string{"oauth2", "cookie"} {
		tl := newTestLab(t, conv, demoserver.Options{}, demoserver.AuditKnobs{})
		for _, r := range tl.run(t, Settings{Active: true}).Checks {
			keys, ok := contract[r.ID]
			if !ok {
				t.Errorf("%s is not in the contract", r.ID)
				continue
			}
			if r.Status == Skip {
				continue
			}
			seen[r.ID] = true
			if keys == nil {
				if s, ok := r.Value.(string); !ok || s == "" {
					t.Errorf("%s's value %v is not a string", r.ID, r.Value)
				}
				continue
			}
			v := valueJSON(t, r)
			if len(v) != len(keys) {
				t.Errorf("%s's value %v, want the keys %v", r.ID, v, keys)
			}
			for _, k := range keys {
				if _, ok := v[k]; !ok {
					t.Errorf("%s's value lacks %q: %v", r.ID, k, v)
				}
			}
		}
	}
	for id := range contract {
		if !seen[id] {
			t.Errorf("%s never ran against the demo server", id)
		}
	}
}

// TestProgressNamesWaits: the progress hook hears each check start and each wait, with its
// length, so that a terminal can say what the audit is waiting for.
func TestProgressNamesWaits(t *testing.T) {
	tl := newTestLab(t, "simplejwt", demoserver.Options{}, demoserver.AuditKnobs{RotationGrace: 2 * time.Second})
	var heard []string
	var waited time.Duration
	tl.run(t, Settings{Progress: func(check, doing string, wait time.Duration) {
		heard = append(heard, check+": "+doing)
		waited += wait
	}}, "grace")
	got := strings.Join(heard, "\n")
	if !strings.Contains(got, "grace: running") || !strings.Contains(got, "grace: presenting a rotated refresh token again after 2s") {
		t.Errorf("progress:\n%s", got)
	}
	if waited < 3*time.Second { // 0.5 + 1 + 2 s of the series before the refusal at 4 s, at least
		t.Errorf("the waits announced add up to %s", waited)
	}
}

// TestRefreshErrorShapeSkipsWhenBusy: a refresh endpoint that answers 429 (or 503, or nothing)
// to an invented refresh token says nothing about how it rejects one: the check is skipped,
// not failed. The verdict's cause decides, as for every refresh (profile.RefreshVerdict).
func TestRefreshErrorShapeSkipsWhenBusy(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		tl := newTestLab(t, "simplejwt", demoserver.Options{}, demoserver.AuditKnobs{})
		busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/token/refresh/" {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(status)
				return
			}
			tl.srv.ServeHTTP(w, r)
		}))
		t.Cleanup(busy.Close)
		tl.tgt.BaseURL = busy.URL
		expect(t, result(t, tl.run(t, Settings{}, "refresh_error_shape"), "refresh_error_shape"), Skip)
	}
}
