package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNilContext covers handlers that are not wrapped by Auth: FromRequest
// returns nil, and every method of the nil *Context answers as for an
// anonymous request or reports ErrNoMiddleware, never panicking.
func TestNilContext(t *testing.T) {
	t.Parallel()
	c := FromRequest(httptest.NewRequest(http.MethodGet, "/", nil))
	require.Nil(t, c)

	t.Run("readers answer as for an anonymous request", func(t *testing.T) {
		t.Parallel()
		assert.False(t, c.IsAuthenticated())
		assert.Nil(t, c.User())
		assert.Empty(t, c.User().String("sub"), "claim helpers work on the nil map")
		assert.False(t, c.User().Has("sub"))
		assert.Nil(t, c.IDTokenClaims())
		assert.Empty(t, c.IDToken())
		s, ok := c.Session()
		assert.False(t, ok)
		assert.Equal(t, Session{}, s)
		v, ok := c.Get("k")
		assert.False(t, ok)
		assert.Nil(t, v)
		assert.Nil(t, c.AccessToken())
		assert.Empty(t, c.RefreshToken())
	})

	t.Run("changes and provider calls report ErrNoMiddleware", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		cases := []struct {
			name   string
			call   func() error
			status int // of the *Error or *ProviderError; 0: a plain error
			token  bool
		}{
			{"Set", func() error { return c.Set("k", "v") }, 0, false},
			{"Delete", func() error { return c.Delete("k") }, 0, false},
			{"SetSession", func() error { return c.SetSession(Session{}) }, 0, false},
			{"Refresh", func() error {
				at, err := c.Refresh(ctx, RefreshOptions{})
				assert.Nil(t, at)
				return err
			}, http.StatusInternalServerError, false},
			{"FetchUserInfo", func() error {
				claims, err := c.FetchUserInfo(ctx)
				assert.Nil(t, claims)
				return err
			}, http.StatusInternalServerError, false},
			{"CustomTokenExchange", func() error {
				res, err := c.CustomTokenExchange(ctx, TokenExchangeOptions{SubjectToken: "t"})
				assert.Nil(t, res)
				return err
			}, http.StatusInternalServerError, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				err := tc.call()
				require.ErrorIs(t, err, ErrNoMiddleware)
				var oe *Error
				var pe *ProviderError
				switch {
				case tc.token:
					require.ErrorAs(t, err, &pe)
					assert.Equal(t, tc.status, pe.StatusCode)
				case tc.status != 0:
					require.ErrorAs(t, err, &oe)
					assert.Equal(t, tc.status, oe.Status)
				default:
					assert.Same(t, ErrNoMiddleware, err)
				}
			})
		}
	})

	t.Run("routes answer 500 with the default error page", func(t *testing.T) {
		t.Parallel()
		routes := map[string]func(w http.ResponseWriter, r *http.Request){
			"Login":             func(w http.ResponseWriter, r *http.Request) { c.Login(w, r, LoginOptions{}) },
			"Logout":            func(w http.ResponseWriter, r *http.Request) { c.Logout(w, r, LogoutOptions{}) },
			"Callback":          func(w http.ResponseWriter, r *http.Request) { c.Callback(w, r, CallbackOptions{}) },
			"BackchannelLogout": c.BackchannelLogout,
		}
		for name, route := range routes {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				for _, accept := range []string{"text/html", "application/json"} {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodGet, "/x", nil)
					req.Header.Set("Accept", accept)
					route(rec, req)
					assert.Equal(t, http.StatusInternalServerError, rec.Code, accept)
					assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
					assert.Empty(t, rec.Header().Values("Set-Cookie"))
					if accept == "application/json" {
						var body map[string]string
						require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
						assert.Equal(t, "server_error", body["error"])
						assert.Contains(t, body["error_description"], "oidc.Auth")
					} else {
						assert.Contains(t, rec.Body.String(), "server_error")
					}
				}
			})
		}
	})

	// Every exported method, including ones added later, is called on a nil
	// Context with usable arguments: none may panic, every error it returns
	// wraps ErrNoMiddleware and every response it writes is a 500.
	t.Run("no exported method panics", func(t *testing.T) {
		t.Parallel()
		typ := reflect.TypeOf(c)
		require.Positive(t, typ.NumMethod())
		errType := reflect.TypeFor[error]()
		for i := range typ.NumMethod() {
			method := typ.Method(i)
			t.Run(method.Name, func(t *testing.T) {
				t.Parallel()
				rec := httptest.NewRecorder()
				args := []reflect.Value{reflect.ValueOf(c)}
				for j := 1; j < method.Type.NumIn(); j++ {
					args = append(args, nilContextArg(method.Type.In(j), rec))
				}
				var out []reflect.Value
				call := method.Func.Call
				if method.Type.IsVariadic() {
					call = method.Func.CallSlice // the last argument is the slice
				}
				require.NotPanics(t, func() { out = call(args) })
				for _, v := range out {
					if v.Type().Implements(errType) && !v.IsNil() {
						assert.True(t, errors.Is(v.Interface().(error), ErrNoMiddleware), "%v", v.Interface())
					}
				}
				if rec.Code != http.StatusOK || rec.Body.Len() > 0 {
					assert.Equal(t, http.StatusInternalServerError, rec.Code)
				}
			})
		}
	})
}

// nilContextArg returns an argument of type t for a Context method: a
// recorder, a request and a context where those are asked for, else the
// zero value.
func nilContextArg(t reflect.Type, rec *httptest.ResponseRecorder) reflect.Value {
	switch t {
	case reflect.TypeFor[http.ResponseWriter]():
		return reflect.ValueOf(rec)
	case reflect.TypeFor[*http.Request]():
		return reflect.ValueOf(httptest.NewRequest(http.MethodPost, "/x", nil))
	case reflect.TypeFor[context.Context]():
		return reflect.ValueOf(context.Background())
	}
	return reflect.Zero(t)
}
