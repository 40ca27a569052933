package redact

import "strings"

// Found is a token a text carried: its kind and fingerprint, for a recording's _tokenscope
// field.
type Found struct {
	Kind Kind
	FP   string
}

// Mask replaces every stretch of text that reads as one of the secrets with its mask: tokens
// as [redacted:fp:1a2b3c4d], the rest as [redacted]. Safe on nil (text comes back unchanged).
func (s *Secrets) Mask(text string) string {
	out, _ := s.MaskPrefix(text, len(text))
	return out
}

// MaskPrefix masks the stretches of text that read as a secret and start before limit, and
// returns the result up to end: limit, or the end of the last stretch when that is later. It is
// for clipping long text: only what the clip keeps is searched.
func (s *Secrets) MaskPrefix(text string, limit int) (out string, end int) {
	out, end, _ = s.maskFound(text, limit, nil)
	return out, end
}

// MaskFound is Mask, and appends to found the tokens the text held.
func (s *Secrets) MaskFound(text string, found []Found) (string, []Found) {
	out, _, found := s.maskFound(text, len(text), found)
	return out, found
}

// Longest is the length of the longest secret: how far past a cut an echo may reach.
func (s *Secrets) Longest() int {
	n := 0
	if t := s.table(); t != nil {
		for _, x := range t.secrets {
			n = max(n, len(x.value))
		}
	}
	return n
}

func (s *Secrets) maskFound(text string, limit int, found []Found) (string, int, []Found) {
	limit = min(limit, len(text))
	t := s.table()
	if t == nil || text == "" {
		return text[:limit], limit, found
	}
	p := t.patterns()
	spans := p.find(text, limit)
	end := limit
	for _, sp := range spans {
		end = max(end, sp.end)
	}
	if len(spans) == 0 {
		return text[:end], end, found
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans { // in order and disjoint: find resumes after each
		sec := p.secrets[sp.secret]
		b.WriteString(text[last:sp.start])
		b.WriteString(mask(sec.value, sec.kind))
		last = sp.end
		if sec.kind.token() {
			found = addFound(found, Found{sec.kind, Fingerprint(sec.value)})
		}
	}
	b.WriteString(text[last:end])
	return b.String(), end, found
}

func addFound(found []Found, f Found) []Found {
	for _, x := range found {
		if x == f {
			return found
		}
	}
	return append(found, f)
}
