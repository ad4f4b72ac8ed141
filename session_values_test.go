package oidc

// Session values through the Context. Helpers are in session_test.go.

import (
	"io"
	"math"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Context session values

func TestSessionContextValues(t *testing.T) {
	t.Parallel()

	t.Run("Set on an anonymous session creates a cookie that carries the value", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		rec := e.get("/set?color=blue", "")
		set, _ := sessParse(t, rec)
		require.Equal(t, []string{"appSession"}, sessSetNames(set))
		sessAssertNoStore(t, rec.Header())
		jar := sessJar{}
		jar.apply(t, rec)
		v, rec := e.view(jar.header())
		assert.True(t, v.HasSession)
		assert.False(t, v.Authenticated, "values alone are not a login")
		assert.Equal(t, map[string]any{"color": "blue"}, v.Values)
		jar.apply(t, rec)
		jar.apply(t, e.get("/set?size=xl", jar.header()))
		v, _ = e.view(jar.header())
		assert.Equal(t, map[string]any{"color": "blue", "size": "xl"}, v.Values)
	})

	t.Run("Delete removes a value; deleting the last one clears the cookie", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		jar := sessJar{"appSession": e.mint(e.hdr(0, 0), `{"a":1,"b":"two"}`)}
		rec := e.get("/delete?key=a&key=missing", jar.header())
		jar.apply(t, rec)
		v, _ := e.view(jar.header())
		assert.Equal(t, map[string]any{"b": "two"}, v.Values)
		rec = e.get("/delete?key=b", jar.header())
		set, cleared := sessParse(t, rec)
		assert.Empty(t, set)
		assert.Equal(t, []string{"appSession"}, cleared)

		// Delete on an anonymous request writes nothing.
		assert.Empty(t, sessLines(e.get("/delete?key=a", "")))

		// A logged-in user keeps the login when values are deleted.
		jar = sessJar{"appSession": e.mintUser("alice", map[string]any{"a": 1})}
		v, _ = e.view(jar.header())
		require.Equal(t, float64(1), v.Values["a"])
		jar.apply(t, e.get("/delete?key=a", jar.header()))
		v, _ = e.view(jar.header())
		assert.Equal(t, "alice", v.Sub)
		assert.Empty(t, v.Values)
	})

	t.Run("reserved keys and non-JSON values are rejected", func(t *testing.T) {
		t.Parallel()
		var errs []error
		var mu sync.Mutex
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := FromRequest(r)
			mu.Lock()
			defer mu.Unlock()
			for _, k := range []string{"id_token", "access_token", "refresh_token", "token_type", "expires_at", "sid", "sessionExpiresAt"} {
				errs = append(errs, c.Set(k, "forged"))
			}
			errs = append(errs, c.Set("ch", make(chan int)), c.Set("nan", math.NaN()), c.Set("fn", func() {}))
			_, _ = io.WriteString(w, "ok")
		})
		e := sessNew(t, nil, app)
		rec := e.get("/", "")
		assert.Empty(t, sessLines(rec), "nothing was stored")
		mu.Lock()
		require.Len(t, errs, 10)
		for i, err := range errs {
			assert.Error(t, err, i)
		}
		assert.ErrorContains(t, errs[0], "reserved")
		errs = nil
		mu.Unlock()

		// A logged-in session keeps its own id_token.
		rec = e.get("/", "appSession="+e.mintDue("alice", nil))
		set, _ := sessParse(t, rec)
		require.Contains(t, set, "appSession")
		_, body, err := sessDecrypt(t, set["appSession"].Value, harnessSecret)
		require.NoError(t, err)
		assert.Equal(t, sessJWT(sessClaims("alice")), body["id_token"])
		assert.NotContains(t, body, "sid")
		assert.NotContains(t, body, "access_token")
	})

	t.Run("should not throw for reassigining session to empty", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		rec := e.get("/clear", "appSession="+e.mintUser("alice", map[string]any{"a": 1}))
		assert.Equal(t, http.StatusOK, rec.Code)
		set, cleared := sessParse(t, rec)
		assert.Empty(t, set)
		assert.Equal(t, []string{"appSession"}, cleared)

		// Chunked sessions are cleared chunk by chunk.
		jar := sessJar{}
		jar.apply(t, e.get("/set?big=4500", "appSession="+e.mintUser("alice", nil)))
		rec = e.get("/clear", jar.header())
		_, cleared = sessParse(t, rec)
		assert.Equal(t, []string{"appSession.0", "appSession.1"}, cleared)
		jar.apply(t, rec)
		assert.Empty(t, jar)
	})

	// express throws for req.appSession = {...}; Go's SetSession replaces.
	t.Run("should throw for reassigning session", func(t *testing.T) {
		t.Parallel()
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			assert.NoError(t, FromRequest(r).SetSession(Session{IDToken: Secret(sessJWT(sessClaims("bob"))), Values: map[string]any{"k": "v"}}))
			_, _ = io.WriteString(w, "ok")
		})
		e := sessNew(t, nil, app)
		rec := e.get("/", "appSession="+e.mintUser("alice", map[string]any{"old": 1}))
		set, _ := sessParse(t, rec)
		_, body, err := sessDecrypt(t, set["appSession"].Value, harnessSecret)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"id_token": sessJWT(sessClaims("bob")), "k": "v"}, body)
	})
}
