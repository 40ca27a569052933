package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"tokenscope/session"

	"tokenscope/apiclient"
)

func loginEvent(e *apiclient.Engine) string {
	for _, ev := range e.Log().Events() {
		if ev.Kind == session.KindLogin {
			return ev.Reason
		}
	}
	return "no login event"
}

// abbrev shows a token's start only.
func abbrev(tok string) string {
	if len(tok) > 12 {
		return tok[:12] + "…"
	}
	return tok
}

func firstClient(calls []tokenCall) string {
	if len(calls) == 0 {
		return ""
	}
	return calls[0].Client
}

func cmpErr(errs ...error) error { return errors.Join(errs...) }

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
