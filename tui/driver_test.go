package tui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"

	"tokenscope/apiclient"
	"tokenscope/apiclient/observe"
	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/session"
)

// observed is tokenscope observe's proxy in front of a demo server, both on 127.0.0.1.
func observed(t *testing.T, faults bool) (*observe.Proxy, *httptest.Server) {
	t.Helper()
	demo := httptest.NewServer(must(demoserver.New(demoserver.Options{})))
	t.Cleanup(demo.Close)
	up, err := observe.ParseUpstream(demo.URL)
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := profile.Builtin("simplejwt")
	p, err := observe.New(observe.Config{Upstreams: []observe.Upstream{up}, Profile: prof, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(p)
	t.Cleanup(func() { proxy.Close(); p.Close() })
	return p, proxy
}

// watching runs the TUI on an observed session as a program, and returns it with a function
// that waits until the screen has shown want.
func watching(t *testing.T, d Driver) (*teatest.TestModel, func(want string)) {
	t.Helper()
	m := New(Options{Driver: d, Tick: 10 * time.Millisecond, Clipboard: func(string) error { return nil }})
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	out := tm.Output() // a stream: each wait reads on from where the last one stopped
	wait := func(want string) {
		t.Helper()
		teatest.WaitFor(t, out, func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
			teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	}
	return tm, wait
}

// finish quits the program and returns the model as it ended.
func finish(t *testing.T, tm *teatest.TestModel) *Model {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
}

// TestWatchOffersOnlyWhatWorks: observe's screen offers none of the keys that drive an engine
// (there is none), the fault keys only with --faults, and E without --faults says what --faults
// would give instead of nothing.
func TestWatchOffersOnlyWhatWorks(t *testing.T) {
	p, _ := observed(t, false)
	tm, wait := watching(t, Watch(p, nil))
	wait("observing your app")
	tm.Send(press("E"))
	wait("--faults")
	for _, k := range []string{"enter", "b", "r", "s", "f", "l", "O", "a", "n", "e", "y", "+"} {
		tm.Send(press(k)) // not offered: each does nothing, and drives nothing
	}
	m := finish(t, tm)
	if !strings.Contains(m.flash, "observe --faults") || !strings.Contains(m.flash, "your app's tokens answer 401") {
		t.Errorf("E without --faults said %q, want what --faults would give", m.flash)
	}
	if s := p.Summary(); s.Requests != 0 {
		t.Errorf("the keys that are not offered sent %d requests through the proxy", s.Requests)
	}
	m.flash = ""
	screen := ansi.Strip(m.View())
	if !strings.Contains(screen, "point your app at the proxy") || strings.Contains(screen, "press enter") {
		t.Errorf("the empty log offers what the screen cannot do:\n%s", screen)
	}
	bar := screen[strings.LastIndex(screen, "\n")+1:]
	m.mode = modeHelp
	help := ansi.Strip(m.View())
	for _, b := range append(m.keys.drivingKeys(), &m.keys.ExpireAccess, &m.keys.RevokeFamily, &m.keys.FailRefresh, &m.keys.Latency, &m.keys.Skew) {
		if b.Enabled() {
			t.Errorf("%q (%s) is offered while watching", b.Help().Key, b.Help().Desc)
		}
		if desc := b.Help().Desc; strings.Contains(help, desc) || strings.Contains(bar, desc) {
			t.Errorf("%q (%s) is listed while watching:\nbar %q\n%s", b.Help().Key, desc, bar, help)
		}
	}
	if !strings.Contains(help, "need tokenscope observe --faults") {
		t.Errorf("help does not say what --faults gives:\n%s", help)
	}
	for _, want := range []string{"reveal/mask", "filter log", "export log"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q, which works while watching:\n%s", want, help)
		}
	}
}

// TestWatchFaultKeysTurnTheProxy: with --faults, E X F L turn the proxy's injections through the
// one Faults interface, and the user's app gets what they promise; K (the server's clock) is not
// offered, and says why.
func TestWatchFaultKeysTurnTheProxy(t *testing.T) {
	p, proxy := observed(t, true)
	post := func(path, body string, bearer string) (int, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, proxy.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	_, pair := post("/api/token/", `{"username":"demo","password":"demo"}`, "")

	tm, wait := watching(t, Watch(p, ProxyFaults(p)))
	wait("observing your app")
	for _, k := range []struct{ key, said string }{
		{"E", "observe: the access tokens your app holds now answer 401"},
		{"F", "observe: the next refresh answers 503"},
		{"X", "observe: the next refresh is rejected as revoked"},
		{"L", "observe: refresh calls now take 2s longer"},
		{"L", "observe: refresh calls at full speed again"},
		{"K", "a proxy cannot move the server's clock"},
	} {
		tm.Send(press(k.key))
		wait(k.said)
	}
	m := finish(t, tm)
	for f, b := range m.keys.faultKeys() {
		if want := Fault(f) != SkewClock; b.Enabled() != want {
			t.Errorf("fault key %q offered %v, want %v", b.Help().Key, b.Enabled(), want)
		}
	}
	if got := m.keys.ExpireAccess.Help().Desc; got != "fault: your app's tokens answer 401" {
		t.Errorf("E's help while watching: %q", got)
	}
	if st, _ := post("/api/protected/", "", pair["access"]); st != http.StatusUnauthorized {
		t.Errorf("after E, a token issued before answered %d, want the injected 401", st)
	}
	if st, _ := post("/api/token/refresh/", `{"refresh":"`+pair["refresh"]+`"}`, ""); st != http.StatusServiceUnavailable {
		t.Errorf("after F, a refresh answered %d, want the injected 503", st)
	}
	if st, _ := post("/api/token/refresh/", `{"refresh":"`+pair["refresh"]+`"}`, ""); st != http.StatusUnauthorized {
		t.Errorf("after X, a refresh answered %d, want the injected rejection", st)
	}
	notes := 0
	for _, ev := range p.Log().Events() {
		if ev.Kind == session.KindNote && strings.HasPrefix(ev.Reason, "fault: ") {
			notes++
		}
	}
	if notes != 5 { // E F X L L; K never reached the proxy
		t.Errorf("the proxy noted %d faults, want 5", notes)
	}
}

// TestDriveWithoutDemoOffersNoFaults: against a real API the fault keys are not offered, and a
// fault key pressed anyway says why rather than nothing.
func TestDriveWithoutDemoOffersNoFaults(t *testing.T) {
	f := sized(t, apiclient.Config{}, false)
	f.m.mode = modeHelp
	help := ansi.Strip(f.m.View())
	for _, b := range f.m.keys.faultKeys() {
		if b.Enabled() || strings.Contains(help, b.Help().Desc) {
			t.Errorf("fault key %q offered against a real API", b.Help().Key)
		}
	}
	if strings.Contains(help, "Fault keys") {
		t.Errorf("help speaks of fault keys against a real API:\n%s", help)
	}
	for _, b := range f.m.keys.drivingKeys() {
		if !b.Enabled() || !strings.Contains(help, b.Help().Desc) {
			t.Errorf("%q (%s) is not offered while driving the engine", b.Help().Key, b.Help().Desc)
		}
	}
	if !strings.Contains(help, "strategies (s)") {
		t.Errorf("help lacks the strategies while driving the engine:\n%s", help)
	}
}

// TestAnswersKeptOnce: a replay replaces the parked answer once, and the request's answer, its
// history row and the detail all show it.
func TestAnswersKeptOnce(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	m := f.m
	parked := apiclient.Result{ID: 7, Outcome: apiclient.Parked, Request: profile.Request{Method: "GET", Path: "/api/me"}}
	m.keep(0, parked)
	m.focus = paneRequests
	if v := ansi.Strip(m.View()); !strings.Contains(v, "parked") {
		t.Fatalf("the parked answer does not show:\n%s", v)
	}
	replay := parked
	replay.Outcome, replay.Status, replay.Attempts = apiclient.OK, 200, []apiclient.Attempt{{Generation: 2, Status: 200}}
	m.Update(loginMsg{replayed: []apiclient.Result{replay}})
	if r, ok := m.answers.of(0); !ok || r.Status != 200 {
		t.Errorf("the request's answer after the replay: %+v", r)
	}
	if r, ok := m.answers.get(7); !ok || r.Status != 200 {
		t.Errorf("the detail's answer after the replay: %+v", r)
	}
	rows := ansi.Strip(strings.Join(m.reqs.historyLines(10), "\n"))
	if !strings.Contains(rows, "200 gen #2 ") || strings.Contains(rows, "parked") {
		t.Errorf("the history row after the replay:\n%s", rows)
	}
	if n := len(m.answers.newest(maxHistory)); n != 1 {
		t.Errorf("the replay made %d history rows, want 1", n)
	}
}

// TestAnswersBounded: the answers kept are bounded, except the one each request shows.
func TestAnswersBounded(t *testing.T) {
	a := newAnswers()
	a.add(0, apiclient.Result{ID: 1, Status: 201})
	for id := uint64(2); id < 2+2*maxAnswers; id++ {
		a.add(1, apiclient.Result{ID: id, Status: 200})
	}
	if len(a.order) != maxAnswers || len(a.byID) != maxAnswers+1 {
		t.Errorf("kept %d in order, %d by id; want %d and %d", len(a.order), len(a.byID), maxAnswers, maxAnswers+1)
	}
	if r, ok := a.of(0); !ok || r.Status != 201 {
		t.Errorf("request 0's answer was forgotten while it is shown: %+v", r)
	}
	a.add(0, apiclient.Result{ID: 5000, Status: 204})
	if _, ok := a.get(1); ok {
		t.Error("an answer out of the history and no longer shown is still kept")
	}
	if n := len(a.newest(-1)); n != 0 {
		t.Errorf("newest(-1) gave %d answers", n)
	}
	a.deleted(0)
	if r, ok := a.of(0); !ok || r.ID != 2*maxAnswers+1 {
		t.Errorf("after deleting request 0, request 1 moved up with its answer: %+v", r)
	}
	a.forget(0)
	if _, ok := a.of(0); ok {
		t.Error("forget left the answer with the changed request")
	}
}

// TestFlightsOneCount: the tabs line, the requests panel and the heartbeat read one count.
func TestFlightsOneCount(t *testing.T) {
	fl := newFlights()
	now := time.Unix(1000, 0)
	fl.launch(0, 1, now, true)
	fl.launch(0, 5, now.Add(time.Second), false)
	fl.launch(2, 1, now, true)
	if fl.out() != 7 || fl.of(0).n != 6 || !fl.of(0).since.Equal(now) || fl.beating() != 2 {
		t.Fatalf("out %d, request 0 %+v, beats %d", fl.out(), fl.of(0), fl.beating())
	}
	fl.land(0, 5, false)
	fl.land(0, 1, true)
	if fl.out() != 1 || fl.of(0).n != 0 || fl.beating() != 1 {
		t.Errorf("after the answers: out %d, request 0 %+v, beats %d", fl.out(), fl.of(0), fl.beating())
	}
	f := sized(t, apiclient.Config{}, true)
	f.m.flights.launch(0, 3, f.m.sh.now, false)
	f.m.reqs.flightChanged(0)
	f.m.focus = paneRequests
	if v := ansi.Strip(f.m.View()); !strings.Contains(v, "3 in flight") || !strings.Contains(v, "in flight ×3") {
		t.Errorf("the tabs line and the panel do not agree on 3 in flight:\n%s", v)
	}
}
