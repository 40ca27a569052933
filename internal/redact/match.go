package redact

import (
	"strings"
	"sync"
)

// Finding secrets in text. An echo is rarely verbatim: a JSON answer writes ä as \u00e4 (and
// may write any letter as \u0070), an HTML page writes ' as &#39; or &#x27; and < as &lt;, a form
// body writes %70%77 and + for a space. So the text is not searched for a list of encodings of
// each secret but read the way a decoder would: each character in any of those forms, mixed
// freely, and with the characters of an escape escaped once more (JSON's \u0026lt; is HTML's
// &lt;, which is <). The secrets (and their base64 forms) sit in one radix tree, so the work at
// each position of the text does not grow with the number of secrets: a session's tokens share
// long prefixes (a JWT's header) and diverge once.

// pattern is one form of one secret.
type pattern struct {
	secret int  // index into patterns.secrets
	short  bool // shorter than MinWhole: only a whole value counts
}

type patterns struct {
	secrets []secret
	pats    []pattern
	root    *rnode
	first   [256]bool // the bytes a pattern starts with
}

// rnode is a node of the radix tree: edges by distinct first byte, and the patterns ending here.
type rnode struct {
	edges []redge
	ends  []int32
}

type redge struct {
	label string
	to    *rnode
}

func (n *rnode) edge(c byte) int {
	for i := range n.edges {
		if n.edges[i].label[0] == c {
			return i
		}
	}
	return -1
}

func (n *rnode) insert(s string, id int32) {
	for {
		if s == "" {
			n.ends = append(n.ends, id)
			return
		}
		i := n.edge(s[0])
		if i < 0 {
			n.edges = append(n.edges, redge{s, &rnode{ends: []int32{id}}})
			return
		}
		e := &n.edges[i]
		k := 0
		for k < len(e.label) && k < len(s) && e.label[k] == s[k] {
			k++
		}
		if k < len(e.label) {
			e.to = &rnode{edges: []redge{{e.label[k:], e.to}}}
			e.label = e.label[:k]
		}
		n, s = e.to, s[k:]
	}
}

func buildPatterns(secrets []secret) *patterns {
	p := &patterns{secrets: secrets, root: &rnode{}}
	for i, sec := range secrets {
		for _, f := range forms(sec.value) {
			id := int32(len(p.pats))
			p.pats = append(p.pats, pattern{secret: i, short: len(sec.value) < MinWhole})
			p.root.insert(f, id)
			p.first[f[0]] = true
		}
	}
	return p
}

// span is a stretch of text that reads as a secret.
type span struct {
	start, end int
	secret     int
}

// find returns the stretches of s starting before limit that read as a secret, leftmost first,
// each the longest at its start.
func (p *patterns) find(s string, limit int) []span {
	var spans []span
	w := walkers.Get().(*walker)
	defer walkers.Put(w)
	for i := 0; i < limit; i++ {
		if c := s[i]; !p.first[c] && !introducer[c] && c != '+' {
			continue
		}
		if end, sec := w.matchAt(p, s, i); end > i {
			spans = append(spans, span{i, end, sec})
			i = end - 1
		}
	}
	return spans
}

// state is a point of the walk: inside edge e of node n (e < 0: at n itself), off bytes into its
// label, and pos in the text.
type state struct {
	n      *rnode
	e, off int
	pos    int
}

// walkers are reused across calls: masking runs for every event printed.
var walkers = sync.Pool{New: func() any { return new(walker) }}

// walker holds scratch space reused from one position to the next.
type walker struct {
	cur, next []state
	units     []unit
}

// advance reads frag along the tree from st.
func advance(st state, frag string) (state, bool) {
	for len(frag) > 0 {
		if st.e < 0 {
			if st.e = st.n.edge(frag[0]); st.e < 0 {
				return st, false
			}
			st.off = 0
		}
		label := st.n.edges[st.e].label
		k := min(len(label)-st.off, len(frag))
		if label[st.off:st.off+k] != frag[:k] {
			return st, false
		}
		st.off += k
		frag = frag[k:]
		if st.off == len(label) {
			st.n, st.e, st.off = st.n.edges[st.e].to, -1, 0
		}
	}
	return st, true
}

// matchAt is the end of the longest stretch of s from i that reads as a secret (and which),
// or -1.
func (w *walker) matchAt(p *patterns, s string, i int) (end, sec int) {
	end, sec = -1, -1
	w.cur = append(w.cur[:0], state{n: p.root, e: -1, pos: i})
	for len(w.cur) > 0 {
		w.next = w.next[:0]
		for _, st := range w.cur {
			if st.e < 0 {
				for _, id := range st.n.ends {
					pt := p.pats[id]
					if st.pos > end && (!pt.short || credentialSlot(s, i, st.pos)) {
						end, sec = st.pos, pt.secret
					}
				}
			}
			if st.pos >= len(s) {
				continue
			}
			w.units = readUnits(s, st.pos, depth, w.units[:0])
			for _, u := range w.units {
				if nx, ok := advance(st, u.frag); ok {
					nx.pos = u.end
					if !containsState(w.next, nx) {
						w.next = append(w.next, nx)
					}
				}
			}
		}
		w.cur, w.next = w.next, w.cur
	}
	return end, sec
}

func containsState(xs []state, x state) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// credentialSlot reports whether s[start:end] stands where a short secret is one: the whole
// text (a header value), or the whole value of a credential-named JSON member, form or query
// field ("password": "…", password=…). Matched by value alone, a short secret would hit
// ordinary words and names: the demo's user "demo" has the password "demo".
func credentialSlot(s string, start, end int) bool {
	if start == 0 && end == len(s) {
		return true
	}
	if !wholeValue(s, start, end) || start == 0 {
		return false
	}
	i := start
	switch s[i-1] {
	case '=': // a form or query field
		i--
	case '"': // a JSON string, maybe inside another JSON string: \"password\":\"…
		i = skipBack(s, i-1, "\\")
		i = skipBack(s, i, " \t")
		if i == 0 || s[i-1] != ':' {
			return false
		}
		i = skipBack(s, i-1, " \t")
		if i == 0 || s[i-1] != '"' {
			return false
		}
		i = skipBack(s, i-1, "\\")
	default:
		return false
	}
	j := i
	for j > 0 && (setAlnum[s[j-1]] || s[j-1] == '_' || s[j-1] == '-') {
		j--
	}
	return j < i && credentialName.MatchString(s[j:i])
}

// skipBack is i moved back over the bytes of set.
func skipBack(s string, i int, set string) int {
	for i > 0 && strings.IndexByte(set, s[i-1]) >= 0 {
		i--
	}
	return i
}

// wholeValue reports whether s[start:end] stands as a whole value: nothing of a word or an
// address on either side of it.
func wholeValue(s string, start, end int) bool {
	return (start == 0 || !wordByte[s[start-1]]) && (end == len(s) || !wordByte[s[end]])
}

// wordByte are the bytes that continue a word, an e-mail address, a host name or a path.
var wordByte = newSet(func(b byte) bool {
	return setAlnum[b] || b >= 0x80 || strings.IndexByte("@.-_~+/%$!*", b) >= 0
})
