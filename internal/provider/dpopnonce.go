package provider

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Server nonces (RFC 9449 §8, §9). A server that wants a nonce in proofs
// answers use_dpop_nonce with a DPoP-Nonce header, and may send a new one
// in any answer. The latest nonce of each server origin is kept in memory,
// in two bounded maps: one for authorization servers (token, PAR), one for
// resource servers (userinfo, APIs), since RFC 9449 keeps them apart.
// Nonces are not shared between instances: each learns its own, at the cost
// of one extra round trip.
const (
	maxASNonces = 16  // a client talks to one or two token/PAR origins
	maxRSNonces = 256 // APIs are more numerous
	// maxNonceLen bounds a nonce that is kept; longer ones are ignored.
	maxNonceLen = 1024
)

// nonceStore maps server origins to their latest DPoP nonce. It holds at
// most max origins; when full, the origin stored first is forgotten.
type nonceStore struct {
	max int

	mu    sync.Mutex
	m     map[string]string
	order []string // origins in the order they were first stored
}

// get returns the nonce of origin, or "".
func (s *nonceStore) get(origin string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[origin]
}

// put records nonce as origin's latest.
func (s *nonceStore) put(origin, nonce string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	if _, ok := s.m[origin]; !ok {
		for len(s.order) >= s.max && len(s.order) > 0 {
			delete(s.m, s.order[0])
			s.order = s.order[1:]
		}
		s.order = append(s.order, origin)
	}
	s.m[origin] = nonce
}

// learn records the DPoP-Nonce of an answer from origin, when it has a
// valid one, and returns it ("" otherwise).
func (s *nonceStore) learn(origin string, h http.Header) string {
	n := h.Get("DPoP-Nonce")
	if !validNonce(n) {
		return ""
	}
	s.put(origin, n)
	return n
}

// validNonce reports whether n is a usable nonce: 1*NQCHAR (RFC 9449 §8.1)
// of at most maxNonceLen bytes.
func validNonce(n string) bool {
	if n == "" || len(n) > maxNonceLen {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// originOf returns the origin of u, the key of the nonce stores: scheme
// and host lower-cased, the default port left out.
func originOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host
}

// dpopChallengeError returns the error parameter of the DPoP challenge
// among the WWW-Authenticate headers of h (RFC 9110 §11.6.1, RFC 9449
// §7.1), or "".
func dpopChallengeError(h http.Header) string {
	for _, v := range h.Values("WWW-Authenticate") {
		if e := challengeParam(v, "DPoP", "error"); e != "" {
			return e
		}
	}
	return ""
}

// challengeParam returns the value of the parameter name of the challenge
// of scheme in one WWW-Authenticate field value (which may hold several
// challenges), or "".
func challengeParam(v, scheme, name string) string {
	var current string
	i := 0
	skip := func() {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
			i++
		}
	}
	token := func() string {
		start := i
		for i < len(v) && !strings.ContainsRune(" \t,=\"", rune(v[i])) {
			i++
		}
		return v[start:i]
	}
	for i < len(v) {
		skip()
		tok := token()
		j := i
		for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
			j++
		}
		if j >= len(v) || v[j] != '=' {
			if tok == "" { // a stray character: step over it
				i++
			}
			current = tok // a new challenge
			continue
		}
		i = j + 1
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		var val string
		if i < len(v) && v[i] == '"' {
			var b strings.Builder
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			i++ // the closing quote
			val = b.String()
		} else {
			val = token()
			for i < len(v) && v[i] == '=' { // token68 padding
				i++
			}
		}
		if strings.EqualFold(current, scheme) && strings.EqualFold(tok, name) {
			return val
		}
	}
	return ""
}
