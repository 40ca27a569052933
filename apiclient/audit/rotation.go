package audit

// The refresh token's rules: rotation, reuse detection, the grace window, and what a race of
// refreshes does.

import (
	"context"
	"fmt"
	"time"

	"tokenscope/apiclient/profile"
)

const refBCP = "RFC 9700 §4.14.2"

// rotationFact is the first experiment: one refresh, and whether it brought a new refresh
// token.
type rotationFact struct {
	rotates bool
	bound   bool   // the tokens are sender-constrained (token_type DPoP)
	skip    string // why it could not be found out
}

// rotated logs in and refreshes once. prev is the refresh token the login brought and f holds
// the refresh's; skip says why there is nothing to go on.
func (l *lab) rotated(ctx context.Context, why string) (f *family, prev string, skip string) {
	f, _, err := l.login(ctx)
	if err != nil {
		return nil, "", err.Error()
	}
	if f.refresh.Empty() {
		return nil, "", "The login answer carries no refresh token: there is nothing to refresh (an identity provider may want the offline_access scope)."
	}
	prev = f.refresh.Raw
	v, x := l.refresh(ctx, f, prev, why)
	if v.Outcome != profile.VerdictOK {
		return nil, "", fmt.Sprintf("the first refresh after a login did not succeed (%s): %s", v.Outcome, v.Why)
	}
	f.apply(v, x)
	return f, prev, ""
}

func (l *lab) rotation(ctx context.Context) rotationFact {
	if l.rot != nil {
		return *l.rot
	}
	f, prev, skip := l.rotated(ctx, "(the login's)")
	r := rotationFact{skip: skip}
	if skip == "" {
		r.rotates = f.refresh.Raw != prev
		r.bound = f.dpopBound()
	}
	l.rot = &r
	return r
}

type rotationCheck struct{}

func (rotationCheck) id() string { return "rotation" }

func (rotationCheck) run(ctx context.Context, l *lab) Result {
	r := l.rotation(ctx)
	switch {
	case r.skip != "":
		return skipped("rotation", r.skip)
	case r.rotates:
		return Result{Status: Pass, Value: "rotates", Reference: refBCP,
			Summary: "Each refresh answers a new refresh token: a stolen one is good until its owner's next refresh."}
	case r.bound:
		return Result{Status: Info, Value: "keeps", Reference: refBCP,
			Summary: "The refresh token is kept, but it is sender-constrained (DPoP), which the BCP accepts instead of rotation."}
	}
	return Result{Status: Warn, Value: "keeps", Reference: refBCP,
		Summary: "The refresh token is kept across refreshes: a stolen one works as long as it lives, and nothing can detect its reuse (public clients must rotate or sender-constrain)."}
}

// graceFact is the grace window measured: the largest delay after a rotation at which the
// previous refresh token was still accepted, and the smallest at which it was refused.
type graceFact struct {
	acceptedUpTo, rejectedFrom *time.Duration
	skip                       string
}

// graceValue is grace's JSON value.
type graceValue struct {
	AcceptedUpToS *float64 `json:"accepted_up_to_s"`
	RejectedFromS *float64 `json:"rejected_from_s"`
}

// graceDelays is the rising series the grace window is probed at: at once, then from half a
// second doubling, and max itself last.
func graceDelays(maxWait time.Duration) []time.Duration {
	out := []time.Duration{0}
	for d := 500 * time.Millisecond; d < maxWait; d *= 2 {
		out = append(out, d)
	}
	return append(out, maxWait)
}

// graceWindow probes, each time on a fresh family: rotate, wait d, present the previous token.
func (l *lab) graceWindow(ctx context.Context) graceFact {
	if l.grace != nil {
		return *l.grace
	}
	g := graceFact{}
	defer func() { l.grace = &g }()
	if r := l.rotation(ctx); r.skip != "" || !r.rotates {
		g.skip = "The server keeps refresh tokens: there is no previous token to present."
		if r.skip != "" {
			g.skip = r.skip
		}
		return g
	}
	for _, d := range graceDelays(l.s.MaxWait) {
		f, prev, skip := l.rotated(ctx, "to rotate it")
		if skip != "" {
			g.skip = skip
			return g
		}
		if err := l.waitUntil(ctx, l.s.Clock.Now().Add(d), fmt.Sprintf("presenting a rotated refresh token again after %s", d)); err != nil {
			g.skip = err.Error()
			return g
		}
		v, _ := l.refresh(ctx, f, prev, fmt.Sprintf("(rotated %s before)", d))
		switch v.Outcome {
		case profile.VerdictOK:
			g.acceptedUpTo = &d
		case profile.VerdictRejected:
			g.rejectedFrom = &d
			return g
		default:
			g.skip = fmt.Sprintf("the refresh %s after a rotation failed for now (%s): try again later", d, v.Why)
			return g
		}
	}
	return g
}

func secondsPtr(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	s := seconds(*d)
	return &s
}

type graceCheck struct{}

func (graceCheck) id() string { return "grace" }

func (graceCheck) run(ctx context.Context, l *lab) Result {
	g := l.graceWindow(ctx)
	if g.skip != "" {
		return skipped("grace", g.skip)
	}
	v := graceValue{AcceptedUpToS: secondsPtr(g.acceptedUpTo), RejectedFromS: secondsPtr(g.rejectedFrom)}
	r := Result{Value: v, Reference: refBCP + "; practice (Auth0's reuse interval)"}
	switch {
	case g.acceptedUpTo == nil:
		r.Status, r.Summary = Warn, "No grace window: when two tabs or a retry present the same refresh token, all but the first end the session."
	case g.rejectedFrom == nil:
		r.Status, r.Summary = Warn, fmt.Sprintf("A rotated refresh token is still accepted %s later: rotation detects a thief only after that.", l.s.MaxWait)
	default:
		r.Status, r.Summary = Pass, fmt.Sprintf("A rotated refresh token is accepted for between %s and %s: a race of refreshes survives.", *g.acceptedUpTo, *g.rejectedFrom)
	}
	return r
}

// reuseValue is reuse's JSON value.
type reuseValue struct {
	PreviousAccepted bool `json:"previous_accepted"`
	FamilyRevoked    bool `json:"family_revoked"`
}

type reuseCheck struct{}

func (reuseCheck) id() string { return "reuse" }

func (reuseCheck) run(ctx context.Context, l *lab) Result {
	g := l.graceWindow(ctx)
	switch {
	case g.skip != "":
		return skipped("reuse", g.skip)
	case g.rejectedFrom == nil:
		return skipped("reuse", fmt.Sprintf("The previous refresh token was accepted for all of the longest wait allowed (%s): there is no time past the grace window to try.", l.s.MaxWait))
	}
	f, prev, skip := l.rotated(ctx, "to rotate it")
	if skip != "" {
		return skipped("reuse", skip)
	}
	if err := l.waitUntil(ctx, l.s.Clock.Now().Add(*g.rejectedFrom), "waiting past the grace window"); err != nil {
		return skipped("reuse", err.Error())
	}
	v1, _ := l.refresh(ctx, f, prev, "(the previous one, past any grace)")
	v2, _ := l.refresh(ctx, f, f.refresh.Raw, "(its successor)")
	if v1.Outcome == profile.VerdictTransient || v2.Outcome == profile.VerdictTransient {
		return skipped("reuse", "a refresh failed for now (a 5xx or no answer): try again later")
	}
	val := reuseValue{PreviousAccepted: v1.Outcome == profile.VerdictOK, FamilyRevoked: v2.Outcome == profile.VerdictRejected}
	r := Result{Value: val, Reference: refBCP}
	switch {
	case val.PreviousAccepted:
		r.Status, r.Summary = Fail, "A rotated refresh token is accepted again outside any grace window: a stolen one keeps working beside its owner's."
	case !val.FamilyRevoked:
		r.Status, r.Summary = Warn, "A replayed refresh token is refused, but its family lives on: a thief who refreshed first keeps the session."
	default:
		r.Status, r.Summary = Pass, "A replayed refresh token ends its whole family, as the BCP's reuse detection asks: a thief's tokens die with the owner's."
	}
	return r
}
