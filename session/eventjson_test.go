package session

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"tokenscope/internal/sanitize"
)

// marshalled is what Event.JSON wrote before AppendJSON: json.Marshal through the sanitizer.
func marshalled(t testing.TB, e Event) []byte {
	b, err := sanitize.JSON(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAppendJSONIsMarshal: the reflection-free encoding is json.Marshal's, byte for byte, for
// an empty event, a full one and texts a server may send (controls, HTML, bidi, invalid UTF-8,
// separators), and it appends to what the buffer holds.
func TestAppendJSONIsMarshal(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 58, 1, 123456789, time.FixedZone("x", 3600))
	evs := []Event{
		{},
		{Seq: 1, Time: at, Kind: KindRequest, RequestID: 7, Method: "GET", Path: "/api/protected/", Attempt: 1, Generation: 2, Token: "ab12"},
		{Seq: 18446744073709551615, Time: at.UTC(), Kind: KindRefreshFailed, RefreshID: 3, Status: -1, Duration: -5, Why: WhyReactive,
			End: EndRejected, Reason: "a<b>&\"q\"\\ \x00\x01\x1f\x7f \u0085 \u202e \u2028\u2029 \u200b \xff\xfe é 😀 \b\f\n\r\t", Transient: true,
			Exp: at.Add(time.Hour), Rotated: true, Waiting: 999, Skew: -90 * time.Second, State: StateActive, Rule: "stampede"},
		{Kind: Kind(99), Why: Why(42), End: End(77), State: State(55), Time: time.Unix(0, 1)},
	}
	for i, e := range evs {
		want := marshalled(t, e)
		if got := e.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("event %d:\n got %s\nwant %s", i, got, want)
		}
		if got := e.JSON(); !bytes.Equal(got, want) {
			t.Errorf("event %d: JSON() = %s", i, got)
		}
		if got := e.AppendJSON([]byte("prefix\xff")); !bytes.Equal(got, append([]byte("prefix\xff"), want...)) {
			t.Errorf("event %d: the buffer's own bytes changed: %q", i, got)
		}
	}
}

// FuzzAppendJSON: whatever the texts and numbers, AppendJSON writes what json.Marshal and the
// sanitizer write.
func FuzzAppendJSON(f *testing.F) {
	f.Add("GET", "/p?a=<b>&c", "reason \x1b]0;x\x07 \u202e", "fp", "rule", uint64(1), int64(1700000000123456789), 1, 2, int64(-3), true)
	f.Add("", "", "\xff\xc0\u2028", "", "", uint64(0), int64(0), 0, 0, int64(0), false)
	f.Fuzz(func(t *testing.T, method, path, reason, token, rule string, seq uint64, ns int64, kind, n int, d int64, flag bool) {
		e := Event{Seq: seq, Time: time.Unix(0, ns).UTC(), Kind: Kind(kind), RequestID: seq / 3, RefreshID: seq / 5,
			Method: method, Path: path, Status: n, Duration: time.Duration(d), Attempt: n / 2, Why: Why(kind % 7),
			End: End(n % 11), Reason: reason, Transient: flag, Generation: kind, Rotated: !flag, Waiting: n,
			Token: token, Skew: time.Duration(-d), State: State(kind % 5), Rule: rule}
		if flag {
			e.Exp = e.Time.Add(time.Duration(d))
		}
		if e.Time.Year() > 9999 || e.Exp.Year() > 9999 || e.Time.Year() < 0 || e.Exp.Year() < 0 {
			return // json.Marshal refuses these years; Event.JSON never sees them
		}
		if got, want := e.AppendJSON(nil), marshalled(t, e); !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// TestAppendJSONHasEveryField: a field added to Event is written by AppendJSON too. Every
// field is set (by reflection, so a new one is included) and the encoding must match
// json.Marshal's, which would carry the new field.
func TestAppendJSONHasEveryField(t *testing.T) {
	var e Event
	v := reflect.ValueOf(&e).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x" + v.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Uint64:
			f.SetUint(uint64(i + 1))
		case reflect.Struct:
			if f.Type() != reflect.TypeFor[time.Time]() {
				t.Fatalf("field %s: a struct AppendJSON does not know", v.Type().Field(i).Name)
			}
			f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC)))
		default:
			t.Fatalf("field %s: kind %s AppendJSON does not know", v.Type().Field(i).Name, f.Kind())
		}
	}
	if got, want := e.AppendJSON(nil), marshalled(t, e); !bytes.Equal(got, want) {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}
