package tui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/apiclient/observe"
	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
)

// TestObservedSessionInTheTUI: tokenscope observe's TUI shows the app's session (its tokens,
// its state), the findings in the requests panel's place, keys that drive the engine do
// nothing, and the fault keys turn the proxy's faults.
func TestObservedSessionInTheTUI(t *testing.T) {
	demo := httptest.NewServer(must(demoserver.New(demoserver.Options{})))
	t.Cleanup(demo.Close)
	up, err := observe.ParseUpstream(demo.URL)
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := profile.Builtin("simplejwt")
	p, err := observe.New(observe.Config{Upstreams: []observe.Upstream{up}, Profile: prof, Faults: true})
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(p)
	t.Cleanup(func() { proxy.Close(); p.Close() })

	post := func(path string, body any) map[string]any {
		b, _ := json.Marshal(body)
		resp, err := http.Post(proxy.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	login := post("/api/token/", map[string]string{"username": "demo", "password": "demo"})
	rt, _ := login["refresh"].(string)
	var wg sync.WaitGroup
	for range 3 { // a naive app: three refreshes with one refresh token at once
		wg.Add(1)
		go func() { defer wg.Done(); post("/api/token/refresh/", map[string]string{"refresh": rt}) }()
	}
	wg.Wait()

	m := New(Options{Driver: Watch(p, ProxyFaults(p)), Tick: 10 * time.Millisecond, Clipboard: func(string) error { return nil }})
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	for _, k := range []string{"enter", "b", "r", "s", "f", "l", "O", "a", "e", "n", "y", "K"} {
		upd(t, m, press(k)) // the engine's keys are off: nothing to drive, and nothing panics
	}
	drainObserved(m)
	m.sync()
	v := ansi.Strip(m.View())
	for _, want := range []string{"observing your app", "findings", "gen #", "via your app"} {
		if !strings.Contains(v, want) {
			t.Errorf("the screen lacks %q:\n%s", want, v)
		}
	}
	upd(t, m, press("tab"))
	if v := ansi.Strip(m.View()); !strings.Contains(v, "refresh-without-need") || !strings.Contains(v, "3 refresh calls") {
		t.Errorf("the findings panel:\n%s", v)
	}
	upd(t, m, press("F"))
	if !strings.Contains(m.flash, "observe: the next refresh answers 503") {
		t.Errorf("F said %q", m.flash)
	}
	resp, err := http.Post(proxy.URL+"/api/token/refresh/", "application/json", strings.NewReader(`{"refresh":"`+rt+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("the refresh after F answered %d, want the injected 503", resp.StatusCode)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// drainObserved moves the observed log's events into the model, as the event stream would.
func drainObserved(m *Model) {
	for {
		select {
		case ev := <-m.sub.C:
			m.logp.ingest(append(m.logp.store.events[:0:0], ev), m.drv.Log().Since)
			m.panels[paneRequests].(eventWatcher).eventsIn()
		default:
			return
		}
	}
}
