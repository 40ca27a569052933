package observe

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"tokenscope/internal/cappedfile"
)

// MaxHARBytes bounds a HAR file: a devtools export of a long session with bodies is tens of
// megabytes; more is a mistake, not something to read into memory.
const MaxHARBytes = 256 << 20

// HAR 1.2, only the fields the analysis reads.
type harDoc struct {
	Log struct {
		Entries []harEntry `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	Started  time.Time `json:"startedDateTime"`
	Time     float64   `json:"time"` // ms, the whole exchange
	Request  harRequest
	Response harResponse
}

type harRequest struct {
	Method   string      `json:"method"`
	URL      string      `json:"url"`
	Headers  []harHeader `json:"headers"`
	PostData *struct {
		Text string `json:"text"`
	} `json:"postData"`
}

type harResponse struct {
	Status  int         `json:"status"`
	Headers []harHeader `json:"headers"`
	Content struct {
		Text     string `json:"text"`
		Encoding string `json:"encoding"`
	} `json:"content"`
}

type harHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// AnalyzeHAR runs the analysis over a HAR file (a browser devtools export) instead of live
// traffic; the returned analyzer holds the log and the summary. Exports made "with sensitive
// data" keep the Authorization headers the analysis needs; sanitized ones have none.
func AnalyzeHAR(path string, o Options) (*Analyzer, error) {
	data, err := cappedfile.Read(path, MaxHARBytes)
	if err != nil {
		return nil, err
	}
	return AnalyzeHARData(data, o)
}

// harStep is the start or the end of one entry, put in time order with the others so that
// concurrency is seen as it happened.
type harStep struct {
	at  time.Time
	end bool
	i   int
}

// AnalyzeHARData is AnalyzeHAR for HAR bytes.
func AnalyzeHARData(data []byte, o Options) (*Analyzer, error) {
	a := NewAnalyzer(o)
	if err := a.ReplayHAR(data); err != nil {
		return nil, err
	}
	return a, nil
}

// ReplayHAR reads a HAR export into the analyzer, in the order its requests started and ended,
// and ends the analysis (Close) at the last of them. Call it once, on a new analyzer.
func (a *Analyzer) ReplayHAR(data []byte) error {
	var doc harDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("HAR: not a HAR file: %v", err)
	}
	entries := doc.Log.Entries
	steps := make([]harStep, 0, 2*len(entries))
	for i, e := range entries {
		if e.Started.IsZero() {
			return fmt.Errorf("HAR: entry %d has no startedDateTime", i+1)
		}
		// An entry's time is clamped to a day: a float that big would not convert to a Duration.
		d := time.Duration(min(max(e.Time, 0), 24*3600*1000) * float64(time.Millisecond))
		steps = append(steps, harStep{at: e.Started, i: i}, harStep{at: e.Started.Add(d), end: true, i: i})
	}
	sort.SliceStable(steps, func(x, y int) bool {
		if !steps[x].at.Equal(steps[y].at) {
			return steps[x].at.Before(steps[y].at)
		}
		return !steps[x].end && steps[y].end
	})
	xs := make([]*Exchange, len(entries))
	var last time.Time
	for _, s := range steps {
		a.Sweep(s.at)
		last = s.at
		e := &entries[s.i]
		switch {
		case !s.end:
			xs[s.i] = a.Begin(harRequestOf(e.Request), s.at)
		case e.Response.Status <= 0:
			a.Fail(xs[s.i], "no answer in the HAR (blocked, cancelled or failed)", s.at)
		default:
			a.End(xs[s.i], harAnswerOf(e.Response), s.at)
		}
	}
	a.Close(last)
	return nil
}

func harRequestOf(r harRequest) Request {
	req := Request{Method: r.Method, Header: harHeaders(r.Headers), BodyLen: 0}
	if u, err := url.Parse(r.URL); err == nil {
		req.Path, req.Query = u.Path, u.RawQuery
	}
	if r.PostData != nil {
		body := []byte(r.PostData.Text)
		req.Body, req.BodyLen = body[:min(len(body), DefaultMaxBodyBytes)], int64(len(body))
	}
	return req
}

func harAnswerOf(r harResponse) Answer {
	body := []byte(r.Content.Text)
	if r.Content.Encoding == "base64" {
		if b, err := base64.StdEncoding.DecodeString(r.Content.Text); err == nil {
			body = b
		}
	}
	ans := Answer{Status: r.Status, Header: harHeaders(r.Headers), Body: body}
	if len(body) > DefaultMaxBodyBytes {
		ans.Body, ans.Truncated = body[:DefaultMaxBodyBytes], true
	}
	return ans
}

func harHeaders(hs []harHeader) http.Header {
	h := http.Header{}
	for _, x := range hs {
		if x.Name != "" && x.Name[0] != ':' { // HTTP/2 pseudo-headers (:authority) are not headers
			h.Add(x.Name, x.Value)
		}
	}
	return h
}
