package observe

import (
	"strings"
	"testing"

	"tokenscope/session"
)

// A devtools export of the seed's naive interceptor at expiry: two requests rejected, two
// refreshes of one token in flight together, one request resent and one lost.
func TestObserveHARFixture(t *testing.T) {
	a, err := AnalyzeHAR("testdata/stampede.har", Options{Profile: simplejwtProfile()})
	if err != nil {
		t.Fatal(err)
	}
	s := a.Summary()
	want := Summary{Requests: 8, Unauthorized: 2, RetriedAfter401: 1, LostAfter401: 1, RefreshCalls: 2, RefreshRejected: 1,
		RefreshTokenReused: 1, PeakConcurrentRefreshes: 2, Logins: 1, ExpiredTokenSent: 2}
	s.Findings, s.Events = nil, 0
	if s.Requests != want.Requests || s.Unauthorized != want.Unauthorized || s.RetriedAfter401 != want.RetriedAfter401 ||
		s.LostAfter401 != want.LostAfter401 || s.RefreshCalls != want.RefreshCalls || s.RefreshRejected != want.RefreshRejected ||
		s.RefreshTokenReused != want.RefreshTokenReused || s.PeakConcurrentRefreshes != want.PeakConcurrentRefreshes ||
		s.Logins != want.Logins || s.ExpiredTokenSent != want.ExpiredTokenSent {
		t.Errorf("summary\n got %+v\nwant %+v", s, want)
	}
	wantFindings(t, a.Summary(), map[string]int{RuleStampede: 1, RuleLostAfter401: 1, RuleExpiredTokenSent: 1})
	for _, e := range a.Log().Events() {
		if e.Kind == session.KindFinding && e.Rule == RuleLostAfter401 && !strings.Contains(e.Reason, "GET /api/me") {
			t.Errorf("lost: %q", e.Reason)
		}
		if strings.Contains(string(e.JSON()), "eyJ") {
			t.Errorf("a raw token in an event: %s", e.JSON())
		}
	}
}

func TestObserveHARFileErrors(t *testing.T) {
	if _, err := AnalyzeHAR("testdata", Options{Profile: simplejwtProfile()}); err == nil {
		t.Error("a directory was read as a HAR")
	}
	if _, err := AnalyzeHAR("testdata/none.har", Options{Profile: simplejwtProfile()}); err == nil {
		t.Error("a missing file was read")
	}
}
