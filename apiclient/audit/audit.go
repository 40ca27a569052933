// Package audit measures a server's token rules by experiment: does it rotate refresh tokens,
// does a replayed one end its family, is there a grace window for two tabs that refresh at once,
// does a race's losing answer clear the refresh cookie, how much leeway does the API give an
// expired access token. Each check is a small type that logs in as often as it needs (within a
// budget), provokes the server and judges what it answered against RFC 6749, RFC 6750, RFC 9700
// and practice; Run gathers their results into a report card.
//
// It speaks the target's wire format through apiclient/profile (building the login and refresh
// calls, reading and judging the answers) over the transport the caller hands it (the engine's,
// transport.New), and does not use the engine: an audit must present tokens the engine
// would never send again.
package audit

import (
	"context"
	"net/http"
	"slices"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
)

// Status is a check's verdict.
type Status string

// Verdicts, as the JSON contract spells them.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Info Status = "info"
	Skip Status = "skip"
)

// Result is one check's outcome: its id, verdict, the measured value (the JSON contract's
// shape for that id), one sentence on what it means for clients, and the RFC or BCP section
// it is judged by. Evidence lists the exchanges that showed it, tokens as fingerprints.
type Result struct {
	ID        string   `json:"id"`
	Status    Status   `json:"status"`
	Value     any      `json:"value"`
	Summary   string   `json:"summary"`
	Reference string   `json:"reference"`
	Evidence  []string `json:"-"`
}

// Report is a run's report card.
type Report struct {
	Target     string   `json:"target"`
	Profile    string   `json:"profile"`
	LoginsUsed int      `json:"logins_used"`
	Checks     []Result `json:"checks"`
}

// Failed reports whether a check failed, or, when strict, warned.
func (r Report) Failed(strict bool) bool {
	for _, c := range r.Checks {
		if c.Status == Fail || strict && c.Status == Warn {
			return true
		}
	}
	return false
}

// Target is the server under audit and how to talk to it.
type Target struct {
	BaseURL  string
	Profile  profile.Profile
	Username string
	Password string
	// ClientID and ClientSecret are sent when the profile is an OAuth client's.
	ClientID, ClientSecret string
	// API is the request the checks present access tokens with; it must succeed with a fresh
	// token.
	API profile.Request
	// Transport carries every call (the engine's, transport.New); nil: a default one.
	Transport http.RoundTripper
	// Timeout bounds each call; 30 s when zero.
	Timeout time.Duration
	// Secrets are the session's secrets (a .http file's $processEnv values, say): what the lab
	// quotes is masked with them and with every credential and token it sees. Nil: a new set.
	Secrets *redact.Secrets
	// RevocationEndpoint is the provider's RFC 7009 endpoint (from its discovery document);
	// empty: the logout check looks for one in the target's own metadata.
	RevocationEndpoint string
}

// Clock is the audit's time: when it waits, how long a window lasts. Tests against a demo
// server with a manual clock advance that clock instead of sleeping.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Settings tune a run.
type Settings struct {
	// Checks are the ids to run, in any order; empty: all but the active ones unless Active.
	Checks []string
	// MaxWait caps every wait: the grace series, the access token's expiry and its leeway.
	MaxWait time.Duration
	// Logins caps the logins of any one check.
	Logins int
	// Parallel is how many refreshes present one refresh token at once.
	Parallel int
	// Active allows the checks that present forged tokens (token_acceptance).
	Active bool
	// Clock is real time when nil.
	Clock Clock
	// Progress hears what each experiment does and how long it will wait; nil: nothing.
	Progress func(check, doing string, wait time.Duration)
}

// Defaults of Settings fields left at zero.
const (
	DefaultMaxWait  = 90 * time.Second
	DefaultLogins   = 12
	DefaultParallel = 5
)

func (s Settings) withDefaults() Settings {
	if s.MaxWait <= 0 {
		s.MaxWait = DefaultMaxWait
	}
	if s.Logins <= 0 {
		s.Logins = DefaultLogins
	}
	if s.Parallel < 2 {
		s.Parallel = DefaultParallel
	}
	if s.Clock == nil {
		s.Clock = realClock{}
	}
	if s.Progress == nil {
		s.Progress = func(string, string, time.Duration) {}
	}
	return s
}

// check is one experiment.
type check interface {
	id() string
	run(ctx context.Context, l *lab) Result
}

// all is every check in the report card's order.
var all = []check{
	rotationCheck{}, reuseCheck{}, graceCheck{}, concurrentCheck{}, accessExpiryCheck{},
	oldAccessCheck{}, lifetimesCheck{}, unauthorizedCheck{}, refreshErrorCheck{},
	headersCheck{}, logoutCheck{}, cookieCheck{}, acceptanceCheck{},
}

// IDs lists every check id in the report card's order.
func IDs() []string {
	out := make([]string, len(all))
	for i, c := range all {
		out[i] = c.id()
	}
	return out
}

// ActiveIDs are the checks that present forged tokens: they run only with Settings.Active.
var ActiveIDs = []string{"token_acceptance"}

// runFirst are the experiments others build on (reuse and concurrent_refresh wait past the
// grace window): run before the rest, so that their evidence is their own.
var runFirst = []string{"rotation", "grace"}

// Run runs the chosen checks against t and returns the card, in the card's order.
func Run(ctx context.Context, t Target, s Settings) Report {
	s = s.withDefaults()
	l := newLab(t, s)
	order := slices.Clone(all)
	slices.SortStableFunc(order, func(a, b check) int {
		return boolInt(!slices.Contains(runFirst, a.id())) - boolInt(!slices.Contains(runFirst, b.id()))
	})
	results := map[string]Result{}
	for _, c := range order {
		if !chosen(c.id(), s) {
			continue
		}
		l.begin(c.id())
		s.Progress(c.id(), "running", 0)
		r := c.run(ctx, l)
		r.ID, r.Evidence = c.id(), l.evidence
		if ctx.Err() != nil {
			r = skipped(c.id(), "The audit was interrupted.")
		}
		results[c.id()] = r
	}
	rep := Report{Target: t.BaseURL, Profile: t.Profile.Name, LoginsUsed: l.loginsUsed}
	for _, c := range all {
		if r, ok := results[c.id()]; ok {
			rep.Checks = append(rep.Checks, r)
		}
	}
	return rep
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func chosen(id string, s Settings) bool {
	if len(s.Checks) > 0 {
		return slices.Contains(s.Checks, id)
	}
	return s.Active || !slices.Contains(ActiveIDs, id)
}

// skipped is a check that could not run, saying why.
func skipped(id, why string) Result {
	return Result{ID: id, Status: Skip, Value: nil, Summary: why}
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
