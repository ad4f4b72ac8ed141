// Package chunk splits long cookie values into numbered cookies and
// reassembles them, following express-openid-connect's naming scheme
// (name.0, name.1, …) with stricter reading rules: gaps, ambiguous indexes,
// too many chunks and oversize totals are refused rather than concatenated.
package chunk

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// MaxChunks is the largest number of chunks Read will reassemble.
const MaxChunks = 20

// MaxBytes is the largest reassembled value Read will return.
const MaxBytes = 64 << 10

// Result is the outcome of Read.
type Result struct {
	// Value is the reassembled cookie value; empty unless Found.
	Value string
	// Found reports whether a usable value was present.
	Found bool
	// Names lists, once each and in request order, every request cookie
	// name that belongs to the session: name itself and every
	// name.<digits> (including indexes Read refused), so the caller can
	// clear them.
	Names []string
}

// Read reassembles a possibly-chunked cookie named name from the request cookies.
// An unchunked cookie name wins. Otherwise cookies name.0 … name.N-1 are
// joined in numeric order. A gap (missing index), an ambiguous index, more
// than MaxChunks chunks, or a total over MaxBytes yields Found=false.
//
// Rules in detail:
//   - Duplicates: when a name (name itself or name.i) occurs more than once,
//     the first occurrence in the request wins and later ones are ignored;
//     values are never concatenated across duplicates. This matches
//     net/http's Request.Cookie.
//   - Only cookies named name.<ASCII digits> are chunk candidates. A digit
//     suffix that is not canonical ("01", "00") or not below MaxChunks
//     (including huge numbers) makes the chunked value unusable, and the
//     name is still listed in Names so that it gets cleared. Suffixes that
//     are not all digits ("x", "-1", "") are not chunks: they are ignored
//     and not listed, so a stray foreign cookie cannot lock a user out.
//   - The name is compared literally; "my.session" never matches
//     "myXsession.0".
//
// Names lists every request cookie name that belongs to this session (name
// itself and every name.<digits>), once each, in request order, for
// clearing; it is filled even when Found is false. Read does not allocate
// for an unchunked cookie beyond the Names slice.
func Read(cookies []*http.Cookie, name string) Result {
	rd := reader{name: name}
	for _, c := range cookies {
		if c != nil {
			rd.add(c.Name, c.Value)
		}
	}
	return rd.result()
}

// reader applies Read's rules to the cookies given to add, in request
// order.
type reader struct {
	name      string
	res       Result
	unchunked string
	haveWhole bool
	parts     [MaxChunks]string
	seen      uint32 // bit i set: parts[i] filled
	maxIndex  int    // the highest index seen, plus one (0: none)
	bad       bool   // an unusable chunk index was present
	extra     nameSet
}

// add records one request cookie; cookies of other names are ignored.
func (rd *reader) add(cookieName, value string) {
	if cookieName == rd.name {
		if !rd.haveWhole {
			rd.haveWhole = true
			rd.unchunked = value
			rd.res.Names = append(rd.res.Names, rd.name)
		}
		return
	}
	suffix, ok := chunkSuffix(cookieName, rd.name)
	if !ok {
		return
	}
	idx, canonical := parseIndex(suffix)
	if !canonical {
		rd.bad = true
		if rd.extra.add(cookieName) {
			rd.res.Names = append(rd.res.Names, cookieName)
		}
		return
	}
	if rd.seen&(1<<idx) != 0 {
		return // duplicate: first occurrence wins
	}
	rd.seen |= 1 << idx
	rd.parts[idx] = value
	rd.maxIndex = max(rd.maxIndex, idx+1)
	rd.res.Names = append(rd.res.Names, cookieName)
}

// result returns the reassembled value.
func (rd *reader) result() Result {
	res, n, total := rd.usable()
	if n == 0 {
		return res
	}
	var sb strings.Builder
	sb.Grow(total)
	for _, p := range rd.parts[:n] {
		sb.WriteString(p)
	}
	res.Value = sb.String()
	return res
}

// resultTo is result with a chunked value joined into buf (from its start)
// and returned as joined, res.Value left empty.
func (rd *reader) resultTo(buf []byte) (res Result, joined []byte) {
	res, n, total := rd.usable()
	if n == 0 {
		return res, nil
	}
	joined = slices.Grow(buf[:0], total)
	for _, p := range rd.parts[:n] {
		joined = append(joined, p...)
	}
	return res, joined
}

// usable applies the reading rules: res is final for an unchunked or
// unusable value (n == 0); otherwise the first n parts, total bytes long,
// make the value (res.Found is set, res.Value left to the caller).
func (rd *reader) usable() (res Result, n, total int) {
	res = rd.res
	if rd.haveWhole {
		res.Value, res.Found = rd.unchunked, true
		return res, 0, 0
	}
	n = rd.maxIndex
	if rd.bad || n == 0 || rd.seen != (uint32(1)<<n)-1 {
		return res, 0, 0 // refused, absent, or a gap
	}
	for _, p := range rd.parts[:n] {
		total += len(p)
	}
	if total > MaxBytes {
		return res, 0, 0
	}
	res.Found = true
	return res, n, total
}

// chunkSuffix returns the part after "name." when cookieName is
// name + "." + ASCII digits.
func chunkSuffix(cookieName, name string) (string, bool) {
	if len(cookieName) < len(name)+2 || cookieName[len(name)] != '.' || cookieName[:len(name)] != name {
		return "", false
	}
	s := cookieName[len(name)+1:]
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// parseIndex parses an all-digit suffix and reports whether it is a
// canonical chunk index below MaxChunks.
func parseIndex(s string) (int, bool) {
	if len(s) > 2 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, n < MaxChunks
}

// nameSet deduplicates the rare non-canonical chunk names. It scans a
// slice while small and switches to a map so that thousands of distinct
// hostile names stay linear.
type nameSet struct {
	list []string
	m    map[string]struct{}
}

// add records s and reports whether it was new.
func (n *nameSet) add(s string) bool {
	if n.m != nil {
		if _, ok := n.m[s]; ok {
			return false
		}
		n.m[s] = struct{}{}
		return true
	}
	for _, v := range n.list {
		if v == s {
			return false
		}
	}
	n.list = append(n.list, s)
	if len(n.list) > 16 {
		n.m = make(map[string]struct{}, 2*len(n.list))
		for _, v := range n.list {
			n.m[v] = struct{}{}
		}
		n.list = nil
	}
	return true
}

// Split cuts value into pieces of at most size bytes (size > 0). One piece when it fits.
// It cuts at byte offsets (session values are ASCII). An empty value gives
// one empty piece. Split panics if size <= 0.
func Split(value string, size int) []string {
	if size <= 0 {
		panic("chunk: Split size must be positive")
	}
	if len(value) <= size {
		return []string{value}
	}
	out := make([]string, 0, (len(value)+size-1)/size)
	for len(value) > size {
		out = append(out, value[:size])
		value = value[size:]
	}
	return append(out, value)
}

// Index returns i when cookieName is the canonical name of chunk i of the
// cookie name (name.0 … name.19), and false otherwise.
func Index(cookieName, name string) (int, bool) {
	suffix, ok := chunkSuffix(cookieName, name)
	if !ok {
		return 0, false
	}
	return parseIndex(suffix)
}

// ChunkName returns name + "." + strconv.Itoa(i).
func ChunkName(name string, i int) string {
	return name + "." + strconv.Itoa(i)
}
