package apiclient

// Naming refresh-token reuse. A server that rotates refresh tokens takes a token presented a
// second time as stolen and revokes its whole family (OAuth 2.0 Security BCP §4.14.2); all the
// client then hears is "invalid_grant" or "Token is invalid or expired". The engine knows what
// it sent, so it counts the presentations of each refresh token and says so: once when a token
// is presented again, once when the calls with it settle, and in the reason of a rejection that
// reuse most likely caused.

import (
	"fmt"
	"sync"

	"tokenscope/session"
)

// maxTrackedTokens bounds the tokens remembered: a session holds one refresh token at a time,
// and only the few it held last can still be in flight or come back in a retry.
const maxTrackedTokens = 8

// tokenUse is what the engine did with one refresh token, known by its fingerprint only.
type tokenUse struct {
	seq         uint64 // when it was first presented, for eviction
	presented   int    // presentations in all
	inFlight    int    // refresh runs (with their retries) using it now
	burst       int    // presentations since its calls last settled
	burstReuse  bool   // one of them overlapped another or came after a rotation
	overlapped  bool   // it was ever presented while another call with it was in flight
	rotatedAway bool   // a call with it came back with a new refresh token
	kept        bool   // a call with it came back without a new one: the server does not rotate
	announced   bool   // the line for its second presentation was emitted
	reused      bool   // it was presented while another call had it, or after it was rotated away
	rejected    int    // runs with it that were rejected and wait for the others (awaitOthers)
	family      string // the session's family when it was first presented
	confirming  bool   // a refresh asks whether its family is revoked (confirmOnce)
}

// suspect is whether a rejection of this token is most likely the server's reuse detection:
// it was presented again after the server replaced it, or several calls carried it at once to
// a server that was not seen keeping it.
func (u *tokenUse) suspect() bool { return u.rotatedAway || (u.overlapped && !u.kept) }

// tokenUses counts presentations per refresh-token fingerprint, for the last few tokens.
type tokenUses struct {
	mu      sync.Mutex
	seq     uint64
	uses    map[string]*tokenUse
	settled *sync.Cond // broadcast when a run leaves: awaitOthers waits on it
}

// get returns fp's record, making room for it by forgetting the oldest settled token; the
// caller holds t.mu.
func (t *tokenUses) get(fp string) *tokenUse {
	if u, ok := t.uses[fp]; ok {
		return u
	}
	if t.uses == nil {
		t.uses = map[string]*tokenUse{}
	}
	if len(t.uses) >= maxTrackedTokens {
		oldest := ""
		for k, u := range t.uses {
			if u.inFlight == 0 && (oldest == "" || u.seq < t.uses[oldest].seq) {
				oldest = k
			}
		}
		delete(t.uses, oldest) // none settled (a no-op): in-flight tokens are few, so it stays small
	}
	t.seq++
	u := &tokenUse{seq: t.seq}
	t.uses[fp] = u
	return u
}

// enter marks a refresh run with fp, a token of family, as started; leave must follow. It may
// be called with the engine's lock held: tokenUses never takes it.
func (t *tokenUses) enter(fp, family string) {
	if fp == "" {
		return
	}
	t.mu.Lock()
	u := t.get(fp)
	u.inFlight++
	if u.family == "" {
		u.family = family
	}
	t.mu.Unlock()
}

// present counts one call carrying fp and returns the line to log, if any: the second
// presentation is named, the rest wait for the summary so that a 200-way stampede stays
// readable.
func (t *tokenUses) present(fp string) string {
	if fp == "" {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.get(fp)
	u.presented++
	u.burst++
	overlap := u.inFlight > 1 // the other runs with it have presented it (or are retrying it)
	if overlap {
		u.overlapped = true
	}
	reuse := overlap || u.rotatedAway
	u.burstReuse = u.burstReuse || reuse
	u.reused = u.reused || reuse
	if u.presented < 2 || u.announced {
		return ""
	}
	u.announced = true
	switch {
	case u.rotatedAway:
		return fmt.Sprintf("refresh token %s reused: presented %d× after the server rotated it", fp, u.presented)
	case overlap:
		return fmt.Sprintf("refresh token %s reused: presented %d× (another refresh with it is in flight)", fp, u.presented)
	case u.kept:
		// A server that does not rotate expects the same token every time: nothing wrong.
		return fmt.Sprintf("refresh token %s presented %d×: the server did not rotate it, so that is expected", fp, u.presented)
	default:
		return fmt.Sprintf("refresh token %s presented %d×: retried after a failed refresh", fp, u.presented)
	}
}

// answered records how the server answered a successful call with fp: with a new refresh
// token (fp is rotated away: presenting it again is reuse) or without (the server keeps it).
func (t *tokenUses) answered(fp string, rotated bool) {
	if fp == "" {
		return
	}
	t.mu.Lock()
	u := t.get(fp)
	if rotated {
		u.rotatedAway = true
	} else {
		u.kept = true
	}
	t.mu.Unlock()
}

// leave marks a run with fp as ended and, when it was the last and its burst reused the token,
// returns the summary line.
func (t *tokenUses) leave(fp string) string {
	if fp == "" {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	u, ok := t.uses[fp]
	if !ok {
		return ""
	}
	if t.settled != nil {
		t.settled.Broadcast()
	}
	if u.inFlight--; u.inFlight > 0 {
		return ""
	}
	n, reuse := u.burst, u.burstReuse
	u.burst, u.burstReuse = 0, false
	if !reuse {
		return ""
	}
	if !u.suspect() {
		return fmt.Sprintf("refresh token %s presented %d× at once (%d in all): the server did not rotate it, so it accepted them", fp, n, u.presented)
	}
	word := "reuses"
	if u.presented == 2 {
		word = "reuse"
	}
	return fmt.Sprintf("refresh token %s reused: presented %d× (%d %s)", fp, u.presented, u.presented-1, word)
}

// explain rewrites the reason of a fatal rejection of fp when its presentations explain it.
func (t *tokenUses) explain(fp, reason string) string {
	if fp == "" {
		return reason
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	u, ok := t.uses[fp]
	switch {
	case !ok || u.presented < 2 && !u.rotatedAway:
		return reason
	case u.suspect():
		// Whether it revoked the family is not known yet: a later call with the session's
		// current token shows it (see endOf).
		return fmt.Sprintf("the server most likely detected reuse of refresh token %s (presented %d×): %s",
			fp, u.presented, reason)
	default:
		return fmt.Sprintf("%s (refresh token %s was presented %d×, one call at a time)", reason, fp, u.presented)
	}
}

// awaitOthers returns when no other run with fp is still waiting for its answer: a rejected
// run waits so that a winner whose answer comes after the loser's has replaced the token
// before the loser decides whether the session ends. Runs rejected at once wait together.
func (t *tokenUses) awaitOthers(fp string) {
	if fp == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	u, ok := t.uses[fp]
	if !ok {
		return
	}
	if t.settled == nil {
		t.settled = sync.NewCond(&t.mu)
	}
	u.rejected++
	for u.inFlight > u.rejected {
		t.settled.Wait()
	}
	u.rejected--
}

// confirmOnce runs ask for fp unless another caller is running it, in which case it waits for
// that one to end: the requests refused after a reuse need one answer, not one call each.
func (t *tokenUses) confirmOnce(fp string, ask func()) {
	t.mu.Lock()
	if t.settled == nil {
		t.settled = sync.NewCond(&t.mu)
	}
	u := t.get(fp)
	if u.confirming {
		for u.confirming {
			t.settled.Wait()
		}
		t.mu.Unlock()
		return
	}
	u.confirming = true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		u.confirming = false
		t.settled.Broadcast()
		t.mu.Unlock()
	}()
	ask()
}

// endOf is why the rejection of fp, family's current refresh token, ends the session: the
// server revoked the family when an older token of it was reused before (see reusedBefore),
// which is returned too; otherwise fp's own presentations may explain the rejection.
func (t *tokenUses) endOf(fp, family string) (session.End, string) {
	if end, stale := t.reusedBefore(fp, family); stale != "" {
		return end, stale
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if u, ok := t.uses[fp]; ok && fp != "" && u.suspect() {
		return session.EndReuseSuspected, ""
	}
	return session.EndRejected, ""
}

// reusedBefore returns EndRevoked and the first token of family other than fp that was reused:
// presented while another call had it or after its rotation, and rotated by one of the calls,
// so the server saw it again after replacing it (a retry after a failed call, one at a time, is
// not reuse). A rejection of the family's current token after that is the server revoking the
// family. It returns "" when there is none.
func (t *tokenUses) reusedBefore(fp, family string) (session.End, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var reused *tokenUse
	stale := ""
	for k, o := range t.uses {
		if k != fp && o.family == family && o.rotatedAway && o.reused && (reused == nil || o.seq < reused.seq) {
			reused, stale = o, k
		}
	}
	if reused == nil {
		return session.EndNone, ""
	}
	return session.EndRevoked, stale
}

// noteUse logs a line from tokenUses, if there is one.
func (e *Engine) noteUse(fp, line string) {
	if line != "" {
		e.emit(session.Event{Kind: session.KindNote, Token: fp, Reason: line})
	}
}
