package session

import (
	"io"

	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
)

// JSONLWriter writes events as JSON lines (Event.JSON, one per line): the format of the TUI's
// export and of the log file. A failed line does not stop the next: the caller counts what it
// lost from the errors. Not safe for concurrent use.
type JSONLWriter struct {
	w       io.Writer
	secrets *redact.Secrets // masks every event line; nil: none
	buf     []byte
}

// NewJSONLWriter writes to w; give it a bufio.Writer for many events and flush that.
func NewJSONLWriter(w io.Writer) *JSONLWriter { return &JSONLWriter{w: w} }

// MaskWith masks the session's secrets in every event line written from now on (a server's
// echo in a reason, a $processEnv value in a path). Values (WriteValue) are the caller's.
func (j *JSONLWriter) MaskWith(s *redact.Secrets) { j.secrets = s }

// Write writes each event as one line. It returns the first error of this call; every event
// is tried.
func (j *JSONLWriter) Write(evs ...Event) error {
	var first error
	for _, ev := range evs {
		b := ev.JSON()
		if j.secrets != nil {
			b = []byte(j.secrets.Mask(string(b)))
		}
		if err := j.line(b); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// WriteValue writes any other JSON value as one line, through the same escaping as events.
func (j *JSONLWriter) WriteValue(v any) error {
	b, err := sanitize.JSON(v)
	if err != nil {
		return err
	}
	return j.line(b)
}

func (j *JSONLWriter) line(b []byte) error {
	j.buf = append(append(j.buf[:0], b...), '\n') // one Write per line: no torn lines between writers
	_, err := j.w.Write(j.buf)
	return err
}

// WriteJSONL writes events to w as JSON lines and returns the first error.
func WriteJSONL(w io.Writer, evs ...Event) error {
	return NewJSONLWriter(w).Write(evs...)
}
