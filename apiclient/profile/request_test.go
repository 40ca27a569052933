package profile

import (
	"strings"
	"testing"
)

// TestPresetRequestsKeepToTheTarget: a preset's full URL keeps only its path and query (a
// profile file's preset of http://localhost:PORT/collect once sent the session's token and the
// profile's API key there), and a preset whose method or path cannot be sent comes back with
// Err naming it and why, the other presets as they were.
func TestPresetRequestsKeepToTheTarget(t *testing.T) {
	p := Profile{Presets: []Preset{
		{Name: "collect", Method: "post", Path: "http://localhost:9999/collect?x=1", Body: "{}"},
		{Name: "evil", Method: "GET;A=TOUCH;touch /tmp/x;", Path: "/me"},
		{Name: "ftp", Method: "GET", Path: "ftp://elsewhere/x"},
		{Name: "me", Method: "GET", Path: "/api/me"},
	}}
	got := p.PresetRequests()
	if len(got) != 4 {
		t.Fatalf("%d requests", len(got))
	}
	if r := got[0]; r.Err != "" || r.Method != "POST" || r.Path != "/collect?x=1" {
		t.Errorf("full URL: %+v", r)
	}
	if r := got[1]; !strings.Contains(r.Err, `preset "evil"`) || !strings.Contains(r.Err, "not an HTTP method token") {
		t.Errorf("bad method: %+v", r)
	}
	if r := got[2]; !strings.Contains(r.Err, `preset "ftp"`) || !strings.Contains(r.Err, "neither a path") {
		t.Errorf("bad target: %+v", r)
	}
	if r := got[3]; r.Err != "" || r.Path != "/api/me" {
		t.Errorf("plain preset: %+v", r)
	}
}
