package observe

import (
	"fmt"
	"time"

	"tokenscope/session"
)

// endCause is why a family's refresh was rejected, as far as the traffic tells: it decides what
// a finding about the dead family can advise.
type endCause int

const (
	// endRejected: the server refused the refresh token for a reason of its own (expired,
	// revoked, a scope it would not grant).
	endRejected endCause = iota + 1
	// endReuse: the client presented a refresh token a rotation had replaced, one refresh after
	// another; a server with reuse detection revokes the whole family for it.
	endReuse
	// endStampede: refresh calls raced with one refresh token; the first rotated it and the
	// others presented it again, which reuse detection answers by revoking the family.
	endStampede
)

// rejection is one refused refresh: the call, the token it presented, why, and when.
type rejection struct {
	cause     endCause
	refreshID uint64
	token     string
	why       string
	at        time.Time
}

// moreTelling reports whether r says more of a family's end than the one already recorded.
func (r *rejection) moreTelling(than *rejection) bool {
	return than == nil || (than.cause == endRejected && r.cause != endRejected)
}

// sessionEnd is the session's typed end for r: a rejection after a race or a rotation is the
// server suspecting reuse (it saw one refresh token twice, or a rotated one again).
func (r *rejection) sessionEnd() session.End {
	if r.cause == endRejected {
		return session.EndRejected
	}
	return session.EndReuseSuspected
}

// rejectionOf classifies the rejected refresh x. The caller holds a.mu.
func rejectionOf(x *Exchange, why string, at time.Time) *rejection {
	r := &rejection{cause: endRejected, refreshID: x.refreshID, token: fp(x.refresh), why: why, at: at}
	// A raced call's answer may reach the analyzer before the answer of the call that rotated its
	// token: racing is the cause, whether or not the rotation was seen yet.
	switch {
	case x.raced:
		r.cause = endStampede
	case x.refresh != nil && x.refresh.rotatedBy != nil:
		r.cause = endReuse
	}
	return r
}

// killed says what ended a family, for a finding's sentence.
func (r *rejection) killed() string {
	switch r.cause {
	case endStampede:
		return fmt.Sprintf("a stampede killed it: refresh #%d, racing other refreshes of the family, presented refresh token %s and was rejected (%s); a server with reuse detection revokes the whole family when a token one of the racers had rotated comes again",
			r.refreshID, r.token, r.why)
	case endReuse:
		return fmt.Sprintf("reuse killed it: refresh #%d presented refresh token %s again after a rotation had replaced it and was rejected (%s); a server with reuse detection revokes the whole family for that",
			r.refreshID, r.token, r.why)
	default:
		return fmt.Sprintf("the server rejected refresh #%d with refresh token %s (%s)", r.refreshID, r.token, r.why)
	}
}

// cure is what the client must change so that the family is not killed again.
func (r *rejection) cure() string {
	switch r.cause {
	case endStampede:
		return "; to keep the next session alive, refresh once and let every request wait for that one (single flight)"
	case endReuse:
		return "; to keep the next session alive, store the refresh token every refresh answer returns and send that one"
	default:
		return ""
	}
}

// rejectedRetriedRule: a refresh presents a token the server rejected before. A rejected
// refresh token stays rejected; presenting it again only repeats the refusal. Once per token.
func (a *Analyzer) rejectedRetriedRule(x *Exchange, t *tokenInfo, at time.Time) {
	r := t.rejected
	if r == nil || t.retriedNamed {
		return
	}
	t.retriedNamed = true
	a.finding(RuleRejectedRetried, x.id, t.fp, fmt.Sprintf("%s: refresh #%d presented refresh token %s again %s after the server rejected it in refresh #%d (%s): a rejected refresh token stays rejected; stop refreshing with it and send the user to log in (or fix what the server refused)",
		t.fam.name(), x.refreshID, t.fp, short(at.Sub(r.at)), r.refreshID, r.why), at)
}

// acceptedReusedRule: under rotation, a refresh succeeded with a token the server had already
// rotated. That is the server's doing (a blacklist checked and written without a lock or a
// unique constraint lets racing refreshes all through), so the finding names the server.
func (a *Analyzer) acceptedReusedRule(x *Exchange, t *tokenInfo, at time.Time) {
	if t == nil || t.rotatedBy == nil || t.acceptedAgain {
		return
	}
	t.acceptedAgain = true
	when := short(at.Sub(t.rotatedAt)) + " after"
	if at.Sub(t.rotatedAt) < time.Millisecond {
		when = "the moment" // the answers came together: the refreshes raced inside the server
	}
	a.finding(RuleServerAcceptedReused, x.id, t.fp, fmt.Sprintf("%s: server finding: the server accepted refresh token %s in refresh #%d %s it had rotated it to %s: a rotated refresh token must be refused (and, with reuse detection, revoke its family); make the server's check-and-rotate atomic (a lock, or a unique constraint on the used token), unless a reuse grace period is configured on purpose",
		t.fam.name(), t.fp, x.refreshID, when, t.rotatedBy.fp), at)
}
