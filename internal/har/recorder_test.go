package har

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tokenscope/internal/redact"
)

// TestRecorderKeepsAndMasks: the recorder passes answers through unchanged, keeps the first
// 64 KiB of each body, and what it hands out has tokens and credentials masked.
func TestRecorderKeepsAndMasks(t *testing.T) {
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
	big := strings.Repeat("x", RecordedBodyMax+100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "refresh_token=opaque-secret-1234; Path=/auth; HttpOnly")
		if r.URL.Path == "/big" {
			_, _ = io.WriteString(w, big)
			return
		}
		_, _ = io.WriteString(w, `{"access":"`+jwt+`","refresh_token":"r-secret-5678","user":"demo"}`)
	}))
	defer srv.Close()
	rec := NewRecorder(http.DefaultTransport)
	rec.SetSecrets(redact.Of("hunter22"))
	hc := &http.Client{Transport: rec}
	req, _ := http.NewRequest("POST", srv.URL+"/login?code=abc", strings.NewReader(`{"username":"demo","password":"hunter22"}`))
	req.Header.Set("Authorization", "Bearer "+jwt)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), jwt) {
		t.Fatal("the caller did not get the answer unchanged")
	}
	resp, err = hc.Get(srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); len(b) != len(big) {
		t.Fatalf("the caller got %d bytes of %d", len(b), len(big))
	}
	resp.Body.Close()

	xs := rec.Exchanges()
	if len(xs) != 2 {
		t.Fatalf("%d exchanges", len(xs))
	}
	var all bytes.Buffer
	if err := rec.WriteHAR(&all, "test"); err != nil {
		t.Fatal(err)
	}
	har := all.String()
	for _, secret := range []string{jwt, "r-secret-5678", "hunter22", "opaque-secret-1234", "code=abc"} {
		if strings.Contains(har, secret) {
			t.Errorf("the HAR shows %q", secret)
		}
	}
	for _, kept := range []string{`"user\":\"demo\"`, "Bearer [redacted]", "refresh_token=[redacted]; Path=/auth; HttpOnly", "cut at 64 KiB"} {
		if !strings.Contains(har, kept) {
			t.Errorf("the HAR lacks %q", kept)
		}
	}
	var doc struct {
		Log struct {
			Version string `json:"version"`
			Entries []struct {
				Response struct {
					Status  int `json:"status"`
					Content struct {
						Size int `json:"size"`
					} `json:"content"`
				} `json:"response"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(all.Bytes(), &doc); err != nil || doc.Log.Version != "1.2" || len(doc.Log.Entries) != 2 {
		t.Fatalf("not a HAR 1.2 document: %v %+v", err, doc.Log)
	}
	if doc.Log.Entries[1].Response.Content.Size != RecordedBodyMax {
		t.Errorf("the big body was kept at %d bytes", doc.Log.Entries[1].Response.Content.Size)
	}
	if got := rec.TakeDone(); len(got) != 2 || len(rec.TakeDone()) != 0 {
		t.Errorf("TakeDone handed out %d, then more", len(got))
	}
}
