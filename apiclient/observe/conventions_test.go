package observe

import (
	"context"
	"net/http/httptest"
	"testing"

	"tokenscope/apiclient"
	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
)

// tokenscope's own engine, a well-behaved client, through the proxy in each of the four
// conventions: the login, the injected 401, the refresh (oauth2's shares its endpoint with the
// login) and the retry are all recognised, and there is nothing to find.
func TestObserveEveryConvention(t *testing.T) {
	for _, name := range profile.Names() {
		t.Run(name, func(t *testing.T) {
			demo, err := demoserver.Start(demoserver.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer demo.Close()
			prof, _ := profile.Builtin(name)
			up, _ := ParseUpstream(demo.URL())
			p, err := New(Config{Upstreams: []Upstream{up}, Profile: prof, Faults: true})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(p)
			defer srv.Close()
			e, err := apiclient.New(apiclient.Config{BaseURL: srv.URL, Profile: prof, Username: "demo", Password: "demo"})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			ctx := context.Background()
			if _, err := e.Login(ctx); err != nil {
				t.Fatal(err)
			}
			req := prof.PresetRequests()[0]
			if r := e.Do(ctx, req); r.Outcome != apiclient.OK {
				t.Fatalf("first request: %+v", r)
			}
			_ = p.ExpireNow()
			if r := e.Do(ctx, req); r.Outcome != apiclient.OK {
				t.Fatalf("after the injected expiry: %+v", r)
			}
			p.Close()
			s := p.Summary()
			if s.Logins != 1 || s.Unauthorized != 1 || s.RefreshCalls != 1 || s.RetriedAfter401 != 1 || s.LostAfter401 != 0 ||
				s.RefreshRejected != 0 || s.Requests != 5 {
				t.Errorf("summary %+v", s)
			}
			wantFindings(t, s, nil)
			toks := p.Tokens()
			if len(toks) != 4 || toks[0].Generation != 1 || toks[2].Generation != 2 || toks[1].RotatedTo != toks[3].Fingerprint ||
				toks[1].Presented != 1 || toks[3].Family != 1 {
				t.Errorf("tokens %+v", toks)
			}
			if st := demo.Stats(); st.Logins != 1 || st.RefreshOK != 1 {
				t.Errorf("server %+v", st)
			}
		})
	}
}
