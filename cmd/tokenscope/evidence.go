package main

// Evidence to take away: --har FILE writes the session's HTTP exchanges as HAR 1.2 when the
// command ends, and --log-bodies adds each exchange (headers and bodies, capped, secrets
// masked) to the --log-file as it happens.

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/pflag"

	"tokenscope/apiclient"
	"tokenscope/internal/har"
	"tokenscope/internal/privfile"
	"tokenscope/session"
)

type evidenceFlags struct {
	harFile   string
	logBodies bool
	rec       *har.Recorder // set when either asks for a recording
	har       *os.File      // opened at start, so that a file that may not be written is refused before the session
}

func (v *evidenceFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&v.harFile, "har", "", "when done, write every HTTP exchange as HAR 1.2 to this file (0600; tokens masked)")
	fs.BoolVar(&v.logBodies, "log-bodies", false, "with --log-file: add each exchange's headers and bodies (capped at 64 KiB, tokens masked)")
}

// wrap puts the recorder under the engine when the user asked for evidence.
func (v *evidenceFlags) wrap(tr http.RoundTripper) http.RoundTripper {
	if v.harFile == "" && !v.logBodies {
		return tr
	}
	v.rec = har.NewRecorder(tr)
	v.rec.Generation = apiclient.RequestGeneration
	return v.rec
}

// start teaches the recorder the engine's secrets, opens the HAR file (refused now, not after the
// session, when it is not the user's to write) and writes it when b closes.
func (v *evidenceFlags) start(b *wiring) error {
	if v.rec == nil {
		return nil
	}
	v.rec.SetSecrets(b.engine.Secrets())
	if v.harFile == "" {
		return nil
	}
	f, err := privfile.Open(v.harFile, privfile.Truncate)
	if err != nil {
		return fmt.Errorf("--har: %w", err)
	}
	v.har = f
	b.stop = append(b.stop, func() {
		if err := v.writeHAR(); err != nil {
			fmt.Fprintf(os.Stderr, "tokenscope: --har: %v\n", err)
		}
	})
	return nil
}

func (v *evidenceFlags) writeHAR() error {
	f := v.har
	werr := v.rec.WriteHAR(f, versionString())
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

// exchangeLine is one exchange in the JSON-lines log.
type exchangeLine struct {
	Kind        string      `json:"kind"`
	Time        time.Time   `json:"time"`
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	Status      int         `json:"status,omitempty"`
	DurationNS  int64       `json:"duration_ns"`
	ReqHeaders  http.Header `json:"request_headers,omitempty"`
	ReqBody     string      `json:"request_body,omitempty"`
	RespHeaders http.Header `json:"response_headers,omitempty"`
	RespBody    string      `json:"response_body,omitempty"`
	Truncated   bool        `json:"body_truncated,omitempty"`
	Error       string      `json:"error,omitempty"`
	Tokens      *har.Tokens `json:"tokens,omitempty"` // fingerprints of the tokens it carried
}

// writeExchanges writes the exchanges finished since the last call.
func writeExchanges(jw *session.JSONLWriter, rec *har.Recorder) error {
	if rec == nil {
		return nil
	}
	for _, x := range rec.TakeDone() {
		err := jw.WriteValue(exchangeLine{Kind: "exchange", Time: x.Started, Method: x.Method, URL: x.URL, Status: x.Status,
			DurationNS: int64(x.Duration), ReqHeaders: x.ReqHeader, ReqBody: string(x.ReqBody), RespHeaders: x.RespHeader,
			RespBody: string(x.RespBody), Truncated: x.BodyTruncated, Error: x.Err, Tokens: x.Tokens()})
		if err != nil {
			return err
		}
	}
	return nil
}
