package observe

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"sort"
	"time"

	"tokenscope/internal/har"
)

// MaxHARBytes bounds a HAR file: a devtools export of a long session with bodies is tens of
// megabytes; more is a mistake, not something to read.
const MaxHARBytes = 256 << 20

// MaxHAREntries bounds the entries read from a HAR: the exchanges are put in time order, so
// each is kept (its bodies capped as live traffic's are) until the file ends.
const MaxHAREntries = 200_000

// harExchange is what the analysis keeps of one entry.
type harExchange struct {
	started time.Time
	dur     time.Duration
	req     Request
	ans     Answer
}

// harStep is the start or the end of one entry, put in time order with the others so that
// concurrency is seen as it happened.
type harStep struct {
	at  time.Time
	end bool
	i   int
}

// ReplayHAR reads a HAR (a browser devtools export, or tokenscope's own --har) into the
// analyzer, in the order its requests started and ended, and ends the analysis (Close) at the
// last of them. Call it once, on a new analyzer. The file is read entry by entry under
// MaxHARBytes and MaxHAREntries, each entry checked as it comes: a hostile file is refused at
// its first bad entry, not after it has been read whole. Exports made "with sensitive data"
// keep the Authorization headers the analysis needs; tokenscope's own HAR masks its tokens
// with their fingerprints, which the analysis reads as the tokens' (so it sees rotation).
func (a *Analyzer) ReplayHAR(r io.Reader) error {
	var xs []harExchange
	err := har.Read(r, har.Limits{MaxBytes: MaxHARBytes, MaxEntries: MaxHAREntries}, func(i int, e har.Entry) error {
		if e.Started.IsZero() {
			return fmt.Errorf("HAR: entry %d has no startedDateTime", i+1)
		}
		// An entry's time is clamped to a day: a float that big would not convert to a Duration.
		d := time.Duration(min(max(e.Time, 0), 24*3600*1000) * float64(time.Millisecond))
		xs = append(xs, harExchange{started: e.Started, dur: d, req: harRequestOf(e.Request), ans: harAnswerOf(e.Response)})
		return nil
	})
	if err != nil {
		return err
	}
	steps := make([]harStep, 0, 2*len(xs))
	for i, x := range xs {
		steps = append(steps, harStep{at: x.started, i: i}, harStep{at: x.started.Add(x.dur), end: true, i: i})
	}
	sort.SliceStable(steps, func(x, y int) bool {
		if !steps[x].at.Equal(steps[y].at) {
			return steps[x].at.Before(steps[y].at)
		}
		return !steps[x].end && steps[y].end
	})
	live := make([]*Exchange, len(xs))
	var last time.Time
	for _, s := range steps {
		a.Sweep(s.at)
		last = s.at
		x := &xs[s.i]
		switch {
		case !s.end:
			live[s.i] = a.Begin(x.req, s.at)
		case x.ans.Status <= 0:
			a.Fail(live[s.i], "no answer in the HAR (blocked, cancelled or failed)", s.at)
		default:
			a.End(live[s.i], x.ans, s.at)
		}
	}
	a.Close(last)
	return nil
}

func harRequestOf(r har.Request) Request {
	req := Request{Method: r.Method, Header: har.Header(r.Headers), BodyLen: 0}
	if u, err := url.Parse(r.URL); err == nil {
		req.Path, req.Query = u.Path, u.RawQuery
	}
	if r.PostData != nil {
		text := r.PostData.Text
		req.Body, req.BodyLen = []byte(text[:min(len(text), DefaultMaxBodyBytes)]), int64(len(text))
	}
	return req
}

func harAnswerOf(r har.Response) Answer {
	body := []byte(r.Content.Text)
	if r.Content.Encoding == "base64" {
		if b, err := base64.StdEncoding.DecodeString(r.Content.Text); err == nil {
			body = b
		}
	}
	ans := Answer{Status: r.Status, Header: har.Header(r.Headers), Body: body}
	if len(body) > DefaultMaxBodyBytes {
		// A copy: the analysis keeps every entry until the file ends, not every body whole.
		ans.Body, ans.Truncated = bytes.Clone(body[:DefaultMaxBodyBytes]), true
	}
	return ans
}
