package observe

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"tokenscope/apiclient"
	"tokenscope/demoserver"
	"tokenscope/internal/cappedfile"
	"tokenscope/internal/har"
	"tokenscope/session"
)

// analyzeHAR runs the analysis over a HAR file, as observe --har does.
func analyzeHAR(path string, o Options) (*Analyzer, error) {
	f, err := cappedfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a := NewAnalyzer(o)
	return a, a.ReplayHAR(f)
}

// analyzeHARData is analyzeHAR for HAR bytes.
func analyzeHARData(data []byte, o Options) (*Analyzer, error) {
	a := NewAnalyzer(o)
	if err := a.ReplayHAR(bytes.NewReader(data)); err != nil {
		return nil, err
	}
	return a, nil
}

// A devtools export of the seed's naive interceptor at expiry: two requests rejected, two
// refreshes of one token in flight together, one request resent and one lost.
func TestObserveHARFixture(t *testing.T) {
	a, err := analyzeHAR("testdata/stampede.har", Options{Profile: simplejwtProfile()})
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
	if _, err := analyzeHAR("testdata", Options{Profile: simplejwtProfile()}); err == nil {
		t.Error("a directory was read as a HAR")
	}
	if _, err := analyzeHAR("testdata/none.har", Options{Profile: simplejwtProfile()}); err == nil {
		t.Error("a missing file was read")
	}
}

// tokenscope's own HAR, read back by observe --har, shows the rotation the engine saw: each
// token masked with its own fingerprint (the engine's), so two refreshes are two rotations,
// not one token kept.
func TestObserveOwnHARShowsRotation(t *testing.T) {
	srv, err := demoserver.New(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	rec := har.NewRecorder(http.DefaultTransport)
	e, err := apiclient.New(apiclient.Config{BaseURL: ts.URL, Profile: simplejwtProfile(), Username: "demo", Password: "demo", Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rec.SetSecrets(e.Secrets())
	ctx := context.Background()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	var refreshes []string // the refresh tokens the engine held, in order
	refreshes = append(refreshes, e.Snapshot().Refresh.Fingerprint())
	for range 2 {
		if err := e.RefreshNow(ctx); err != nil {
			t.Fatal(err)
		}
		refreshes = append(refreshes, e.Snapshot().Refresh.Fingerprint())
	}
	if refreshes[0] == refreshes[1] || refreshes[1] == refreshes[2] {
		t.Fatalf("the demo server did not rotate: %v", refreshes)
	}
	var b bytes.Buffer
	if err := rec.WriteHAR(&b, "test"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), e.Snapshot().Refresh.Raw) {
		t.Fatal("the HAR holds the refresh token")
	}
	a, err := analyzeHARData(b.Bytes(), Options{Profile: simplejwtProfile()})
	if err != nil {
		t.Fatal(err)
	}
	var oks []session.Event
	for _, ev := range a.Log().Events() {
		if ev.Kind == session.KindRefreshOK {
			oks = append(oks, ev)
		}
	}
	if len(oks) != 2 {
		t.Fatalf("%d refreshes read back, want 2", len(oks))
	}
	for i, ev := range oks {
		want := "rotated: refresh token " + refreshes[i] + " → " + refreshes[i+1]
		if !ev.Rotated || !strings.Contains(ev.Reason, want) {
			t.Errorf("refresh %d read back as %q, want %q", i+1, ev.Reason, want)
		}
	}
	if s := a.Summary(); s.RefreshTokenReused != 0 || s.RefreshRejected != 0 {
		t.Errorf("summary %+v: a reuse or rejection that did not happen", s)
	}
}

// A hostile HAR of 16 MiB of empty entries is refused at its first entry, with memory to
// match: the reader holds one entry at a time, not the document (it took GiBs).
func TestObserveHARHostileMemory(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"log":{"entries":[{}`)
	for b.Len() < 16<<20 {
		b.WriteString(",{}")
	}
	b.WriteString("]}}")
	data := b.Bytes()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := analyzeHARData(data, Options{Profile: simplejwtProfile()})
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "entry 1 has no startedDateTime") {
		t.Errorf("err = %v, want the first entry refused", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("reading it allocated %d MiB, want under 8", alloc>>20)
	}
}
