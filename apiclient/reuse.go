package apiclient

// Naming refresh-token reuse. A server that rotates refresh tokens takes a token presented a
// second time as stolen and revokes its whole family (OAuth 2.0 Security BCP §4.14.2); all the
// client then hears is "invalid_grant" or "Token is invalid or expired". The engine knows what
// it sent, so it counts the presentations of each refresh token and says so: once when a token
// is presented again, once when the calls with it settle, and in the reason of a rejection that
// reuse most likely caused.

import (
	"fmt"

	"tokenscope/session"
)

// maxTrackedTokens bounds the tokens remembered: a session holds one refresh token at a time,
// and only the few it held last can still be in flight or come back in a retry.
const maxTrackedTokens = 8

// tokenUse is what the engine did with one refresh token, known by its fingerprint only.
type tokenUse struct {
	seq         uint64 // when it was first presented, for eviction
	presented   int    // presentations in all
	inFlight    int    // refresh runs (with their retries) using it now: the one in-flight count
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

// tokenUses counts presentations per refresh-token fingerprint, for the last few tokens, and
// the refresh runs in flight with each: the refresher's one count of refreshes in flight (a
// client-credentials run, with no refresh token, counts under ""). The refresher's lock
// guards it.
type tokenUses struct {
	seq  uint64
	uses map[string]*tokenUse
}

// running is how many refresh runs are in flight, whatever token they present.
func (t *tokenUses) running() int {
	n := 0
	for _, u := range t.uses {
		n += u.inFlight
	}
	return n
}

// get returns fp's record, making room for it by forgetting the oldest settled token.
func (t *tokenUses) get(fp string) *tokenUse {
	if u, ok := t.uses[fp]; ok {
		return u
	}
	if t.uses == nil {
		t.uses = map[string]*tokenUse{}
	}
	if len(t.uses) >= maxTrackedTokens {
		var oldest *tokenUse
		key := ""
		for k, u := range t.uses {
			if u.inFlight == 0 && (oldest == nil || u.seq < oldest.seq) {
				oldest, key = u, k
			}
		}
		if oldest != nil { // none settled: in-flight tokens are few, so the map stays small
			delete(t.uses, key)
		}
	}
	t.seq++
	u := &tokenUse{seq: t.seq}
	t.uses[fp] = u
	return u
}

// enter marks a refresh run with fp, a token of family, as started; leave must follow.
func (t *tokenUses) enter(fp, family string) {
	u := t.get(fp)
	u.inFlight++
	if u.family == "" {
		u.family = family
	}
}

// present counts one call carrying fp and returns the line to log, if any: the second
// presentation is named, the rest wait for the summary so that a 200-way stampede stays
// readable.
func (t *tokenUses) present(fp string) string {
	if fp == "" {
		return ""
	}
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
	u := t.get(fp)
	if rotated {
		u.rotatedAway = true
	} else {
		u.kept = true
	}
}

// leave marks a run with fp as ended and, when it was the last and its burst reused the token,
// returns the summary line.
func (t *tokenUses) leave(fp string) string {
	u, ok := t.uses[fp]
	if !ok {
		return ""
	}
	if u.inFlight--; u.inFlight > 0 || fp == "" {
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

// endOf is why the rejection of fp, family's current refresh token, ends the session: the
// server revoked the family when an older token of it was reused before (see reusedBefore),
// which is returned too; otherwise fp's own presentations may explain the rejection.
func (t *tokenUses) endOf(fp, family string) (session.End, string) {
	if end, stale := t.reusedBefore(fp, family); stale != "" {
		return end, stale
	}
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
		e.emit(&session.Event{Kind: session.KindNote, Token: fp, Reason: line})
	}
}
