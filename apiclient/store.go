package apiclient

// The session store: the one place the session's tokens live.

import (
	"sync"

	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

// tokenStore holds one login's session and what goes with its tokens: the serial that bumps
// with every new access token (a request remembers the one it carried), the tokens'
// verifications and the ID token. It has its own lock and calls nothing that takes another
// part's lock except the callbacks it is handed, so any part may call it while holding its own.
//
// Its State is never StateRefreshing: whether a refresh is in flight is the refresher's count,
// and Engine.state puts the two together.
type tokenStore struct {
	mu         sync.Mutex
	sess       session.Session // Skew and Parked are filled in by Engine.Snapshot
	serial     uint64
	accessVer  session.Verification
	refreshVer session.Verification
	idToken    session.Token // from the last OIDC login
	keys       session.Keys  // Config.Keys: when set, they check both tokens
	idpKeys    session.Keys  // the identity provider's published keys, once discovered
}

// storeView is the store read at one moment.
type storeView struct {
	sess                  session.Session
	serial                uint64
	accessVer, refreshVer session.Verification
	idToken               session.Token
}

func (s *tokenStore) view() storeView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return storeView{sess: s.sess, serial: s.serial, accessVer: s.accessVer, refreshVer: s.refreshVer, idToken: s.idToken}
}

// read runs f on the session under the store's lock: for a caller that must derive something
// from the token and its serial together (the attacher's per-token cache).
func (s *tokenStore) read(f func(sess *session.Session, serial uint64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.sess, s.serial)
}

// tokens are the current access and refresh tokens.
func (s *tokenStore) tokens() (access, refresh session.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess.Access, s.sess.Refresh
}

// generation is the current access token's generation and the session's state.
func (s *tokenStore) generation() (int, session.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess.Generation, s.sess.State
}

// dead reports whether the session cannot send (a login is needed), and why in words.
func (s *tokenStore) dead() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.sess.State {
	case session.StateLoginRequired:
		return true, "login required: " + s.sess.Reason
	case session.StateLoggedOut:
		return true, "not logged in"
	}
	return false, ""
}

// replaced reports whether the access token of serial has been replaced since.
func (s *tokenStore) replaced(serial uint64) (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return serial < s.serial, s.sess.Generation
}

// login starts a new session with a logged-in pair; bind runs under the lock (the DPoP
// binding goes with the token it came with) and its note is returned.
func (s *tokenStore) login(p profile.Answer, idTok session.Token, bind func() string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	logins := s.sess.Logins + 1
	s.sess = session.Session{
		State: session.StateActive, Access: p.Access, Refresh: p.Refresh, Generation: 1,
		Family: session.FamilyName(p.Refresh, logins), Logins: logins, Source: "login",
	}
	s.idToken = idTok
	note := bind()
	s.installedLocked()
	return note
}

// resume installs tokens from a session file; bind as in login.
func (s *tokenStore) resume(st session.Stored, acc, ref, idTok session.Token, source string, bind func() string) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	logins := s.sess.Logins
	fam := st.Family
	if fam == "" {
		fam = session.FamilyName(ref, logins+1)
	}
	if st.IDToken != "" {
		s.idToken = idTok
	}
	s.sess = session.Session{State: session.StateActive, Access: acc, Refresh: ref, Generation: max(st.Generation, 1),
		Family: fam, Rotations: st.Rotations, Logins: logins, Source: source}
	note := bind()
	s.installedLocked()
	return s.sess.Generation, note
}

// refreshed installs a refreshed pair unless the session ended meanwhile (ok false); bind as
// in login.
func (s *tokenStore) refreshed(p profile.Answer, bind func() string) (gen int, rotated, ok bool, note string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.sess.State; st == session.StateLoginRequired || st == session.StateLoggedOut {
		return 0, false, false, ""
	}
	s.sess.Access = p.Access
	s.sess.Generation++
	rotated = p.Rotated && p.Refresh.Raw != s.sess.Refresh.Raw
	if rotated {
		s.sess.Refresh = p.Refresh
		s.sess.Rotations++
	}
	s.sess.Source = "refresh"
	note = bind()
	s.installedLocked()
	return s.sess.Generation, rotated, true, note
}

// installedLocked bumps the serial and checks the new tokens; the caller holds s.mu.
func (s *tokenStore) installedLocked() {
	s.serial++
	s.verifyLocked()
}

func (s *tokenStore) verifyLocked() {
	if s.keys.Empty() {
		s.accessVer = session.Verify(s.sess.Access.Raw, s.idpKeys)
		s.refreshVer = session.Verify(s.sess.Refresh.Raw, session.Keys{})
		return
	}
	s.accessVer = session.Verify(s.sess.Access.Raw, s.keys)
	s.refreshVer = session.Verify(s.sess.Refresh.Raw, s.keys)
}

// setProviderKeys has the identity provider's keys check the access token from now on.
func (s *tokenStore) setProviderKeys(k session.Keys) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idpKeys = k
	s.verifyLocked()
}

// logout forgets the tokens.
func (s *tokenStore) logout() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sess.State = session.StateLoggedOut
	s.sess.Access, s.sess.Refresh = session.Token{}, session.Token{}
	s.idToken = session.Token{}
	s.sess.Reason, s.sess.End = "logged out", session.EndUserLogout
	s.serial++
}

// end marks the session as needing a login for end, said in reason, and reports whether it was
// the first to: the first cause stays, since in a stampede the rejections after it only echo
// it (the family is revoked), and the dialog should say why the session ended.
func (s *tokenStore) end(end session.End, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess.State == session.StateLoginRequired {
		return false
	}
	s.sess.State = session.StateLoginRequired
	s.sess.Reason, s.sess.End = reason, end
	return true
}
