package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// markerKey is express-openid-connect's marker key: "<iss>|<sid or sub>".
func markerKey(iss, id string) string { return iss + "|" + id }

// writeLogoutMarkers is the default OnLogoutToken: a "<iss>|<sid>" marker
// when the token has a sid (that session only), else a "<iss>|<sub>" marker
// (every session of the user). Each records the logout token's iat and the
// time the logout was received; later times already recorded are kept.
func (s *settings) writeLogoutMarkers(ctx context.Context, claims Claims) error {
	store := s.bcl.markers
	if s.bcl.markers == nil {
		return errors.New("oidc: BackchannelLogout has no Store")
	}
	iss := claims.String("iss")
	id := claims.String("sid")
	if id == "" {
		id = claims.String("sub")
	}
	if iss == "" || id == "" {
		return errors.New("oidc: the logout token must have a 'sid' or a 'sub'")
	}
	key := markerKey(iss, id)
	now := s.now()
	logoutIAT := now.Unix()
	if iat, ok := numericClaim(claims, "iat"); ok {
		logoutIAT = iat.Unix()
	}
	receivedAt := now.UnixMicro()
	prev, err := getEntry(ctx, store, key)
	if err != nil {
		return err
	}
	if prev != nil {
		logoutIAT = max(logoutIAT, prev.Header.IAT)
		prevAt, _ := markerTimes(prev)
		receivedAt = max(receivedAt, prevAt)
	}
	ttl := s.bcl.markerTTL
	expiry := now.Add(ttl)
	entry := encodeEntry(key, storeEntry{
		Header:      storeHeader{IAT: logoutIAT, UAT: now.Unix(), EXP: expiry.Unix()},
		Cookie:      &storeCookie{Expires: now.UnixMilli() + ttl.Milliseconds(), MaxAge: ttl.Milliseconds()},
		LoggedOutAt: receivedAt,
	})
	if err := store.Set(ctx, key, entry, expiry); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return nil
}

// maxMarkerMillis bounds the write time derived from a marker's cookie
// member (the year 2286), so that the conversion to microseconds cannot
// overflow.
const maxMarkerMillis = 1e13

// markerTimes returns when a marker's logout was received, in Unix
// microseconds, and the logout time in Unix seconds (the logout token's
// iat), each 0 when unknown. Markers written by express-openid-connect only
// carry their write time, their cookie's expires - maxAge in milliseconds;
// it stands for both, the microseconds rounded up to the end of that
// millisecond (a login that started in the same millisecond counts as
// started before the logout).
func markerTimes(e *storeEntry) (receivedAt, logoutIAT int64) {
	receivedAt = e.LoggedOutAt
	if receivedAt <= 0 {
		receivedAt = 0
		if ck := e.Cookie; ck != nil && ck.MaxAge >= 0 && ck.Expires > ck.MaxAge {
			if ms := ck.Expires - ck.MaxAge; ms < maxMarkerMillis {
				receivedAt = ms*1000 + 999
			}
		}
	}
	logoutIAT = e.Header.IAT
	if logoutIAT <= 0 {
		logoutIAT = receivedAt / 1e6
	}
	return receivedAt, logoutIAT
}

// loginTimes are the times of a session that the marker check compares.
type loginTimes struct {
	startedAt int64 // Session.LoginStartedAt, Unix microseconds (0: unknown)
	idIAT     int64 // the ID token's iat, Unix seconds (0: unknown)
}

// loggedOutBy reports whether a marker logs out a session: when its login
// started at or before the logout was received, unless the provider issued
// its ID token after the logout token. Without a login start (sessions made
// by express-openid-connect or an older version), the ID token's iat
// decides: at or before the logout time. A marker or session without any
// usable time is logged out, as in express-openid-connect.
func loggedOutBy(marker *storeEntry, lt loginTimes) bool {
	if marker == nil {
		return false
	}
	receivedAt, logoutIAT := markerTimes(marker)
	if logoutIAT > 0 && lt.idIAT > logoutIAT {
		return false // issued by the provider after the logout
	}
	if lt.startedAt > 0 && receivedAt > 0 {
		return lt.startedAt <= receivedAt
	}
	return true
}

// issuerSpellings returns the issuers that discovery would accept for
// issuerBaseURL, as marker keys may use them: the URL as configured (or,
// for a URL of a .well-known document, the part before "/.well-known/"),
// and its normalised form, each with and without a trailing slash.
func issuerSpellings(issuerBaseURL string) []string {
	base := issuerBaseURL
	if i := strings.Index(base, "/.well-known/"); i >= 0 {
		base = base[:i]
	}
	var out []string
	add := func(v string) {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range []string{base, provider.NormalizeIssuer(base)} {
		add(v)
		if strings.HasSuffix(v, "/") {
			add(strings.TrimSuffix(v, "/"))
		} else {
			add(v + "/")
		}
	}
	return out
}

// markerIssuers returns the issuers to look markers up under: the
// discovered one once discovery has succeeded (it cannot change, as it must
// match IssuerBaseURL), else the spellings IssuerBaseURL allows. It never
// asks the provider, so the check works while the provider is down.
func (m *Middleware) markerIssuers() []string {
	if md := m.provider.Discovered(); md != nil {
		return []string{md.Issuer}
	}
	return m.s.bcl.issuers
}

// defaultIsLoggedOut checks the "<iss>|<sid>" and "<iss>|<sub>" markers,
// in parallel.
func defaultIsLoggedOut(r *http.Request, c *Context) (bool, error) {
	m := c.m
	var sid, sub string
	var lt loginTimes
	if claims := c.sess.idClaims(); claims != nil {
		sid, sub = claims.String("sid"), claims.String("sub")
		if iat, ok := numericClaim(claims, "iat"); ok && iat.Unix() > 0 {
			lt.idIAT = iat.Unix()
		}
		c.sess.read(func(cur *Session) {
			if cur != nil {
				lt.startedAt = cur.LoginStartedAt
			}
		})
	}
	var keys []string
	for _, iss := range m.markerIssuers() {
		for _, id := range []string{sid, sub} {
			if id != "" && !slices.Contains(keys, markerKey(iss, id)) {
				keys = append(keys, markerKey(iss, id))
			}
		}
	}
	if len(keys) == 0 {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.s.httpTimeout)
	defer cancel()
	type result struct {
		out bool
		err error
	}
	results := make([]result, len(keys))
	var wg sync.WaitGroup
	for i, key := range keys {
		wg.Go(func() {
			e, err := getEntry(ctx, m.s.bcl.markers, key)
			results[i] = result{loggedOutBy(e, lt), err}
		})
	}
	wg.Wait()
	for _, res := range results {
		if res.err != nil {
			return false, res.err
		}
	}
	for _, res := range results {
		if res.out {
			return true, nil
		}
	}
	return false, nil
}
