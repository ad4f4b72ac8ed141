package oidc

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStoreCallsPerRequest counts the Store calls that requests through the
// middleware make in store mode: a request that does not change the
// session reads it once and writes nothing until the touch interval is
// due; then it writes the entry once.
func TestStoreCallsPerRequest(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	store := &countingStore{Store: NewMemoryStore()}
	m, err := New(Config{
		Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
		ClientID: "test-client", LookupEnv: func(string) (string, bool) { return "", false },
		Session: SessionConfig{Store: store, TouchInterval: time.Minute}, AuthRequired: Bool(false),
		Now: func() time.Time { return time.Unix(now.Load(), 0) },
	})
	require.NoError(t, err)
	seedApp := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, FromRequest(r).SetSession(Session{IDToken: Secret(sessJWT(sessClaims("alice"))), Values: map[string]any{"n": 1.0}}))
	}))
	seed := httptest.NewRecorder()
	seedApp.ServeHTTP(seed, httptest.NewRequest(http.MethodGet, "https://app.example/seed", nil))
	require.Len(t, seed.Result().Cookies(), 1)

	mux := http.NewServeMux()
	mux.Handle("/protected", RequiresAuth()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(FromRequest(r).User().String("sub")))
	})))
	mux.HandleFunc("/public", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hi")) })
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		v, _ := FromRequest(r).Get("n")
		_, _ = w.Write([]byte{byte('0' + int(v.(float64)))})
	})
	app := m.Handler(mux)
	request := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "https://app.example"+path, nil)
		for _, ck := range seed.Result().Cookies() {
			req.AddCookie(ck)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, path)
		return rec
	}
	type calls struct{ gets, sets, destroys int64 }
	count := func(path string) (calls, *httptest.ResponseRecorder) {
		store.gets.Store(0)
		store.sets.Store(0)
		store.destroys.Store(0)
		rec := request(path)
		return calls{store.gets.Load(), store.sets.Load(), store.destroys.Load()}, rec
	}

	now.Add(30) // within the touch interval
	for _, path := range []string{"/protected", "/public", "/read"} {
		got, rec := count(path)
		assert.Equal(t, calls{gets: 1}, got, "%s: one Get, nothing else", path)
		assert.Empty(t, rec.Result().Cookies(), "%s: the cookie is left as it is", path)
	}

	now.Add(60) // the touch is due: the entry is rewritten once (update-if-exists: Get, then Set)
	got, rec := count("/read")
	assert.Equal(t, calls{gets: 2, sets: 1}, got)
	assert.Len(t, rec.Result().Cookies(), 1, "the cookie is re-issued")
}
