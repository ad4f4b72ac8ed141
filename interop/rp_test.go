package interop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
)

// interopSecret is the cookie secret of every Go relying party.
const interopSecret = "interop-secret-that-is-long-enough-0123456789"

const tokenExchangeGrant = oidc.GrantTypeTokenExchange

// rpSpec describes one Go relying party and its client at node-oidc-provider.
type rpSpec struct {
	name string
	// client returns client metadata (oidc-provider's format) merged over
	// client_id, redirect_uris and post_logout_redirect_uris.
	client func(base string) map[string]any
	// configure completes the Go configuration.
	configure func(cfg *oidc.Config)
}

// rpKeys are the client keys the tests generate and register.
type rpKeys struct {
	assertion *rsa.PrivateKey   // private_key_jwt (RS256)
	request   *ecdsa.PrivateKey // request objects (ES256)
}

const requestKeyID = "jar-es256"

func newRPKeys() (*rpKeys, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &rpKeys{assertion: rk, request: ek}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWK and ecJWK encode public keys as JWKs (RFC 7517).
func rsaJWK(k *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	}
}

func ecJWK(k *ecdsa.PublicKey, kid string) (map[string]any, error) {
	raw, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	n := (len(raw) - 1) / 2
	return map[string]any{
		"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
		"x": b64(raw[1 : 1+n]), "y": b64(raw[1+n:]),
	}, nil
}

// rpSpecs lists the relying parties of the node-oidc-provider tests.
func rpSpecs(keys *rpKeys) ([]rpSpec, error) {
	ecPub, err := ecJWK(&keys.request.PublicKey, requestKeyID)
	if err != nil {
		return nil, err
	}
	rsaPub := rsaJWK(&keys.assertion.PublicKey, "pkjwt-rs256")
	const secret = "client-secret-for-interop-0123456789abcdefghijklmn"
	secretClient := func(method string, responseTypes []string, grants ...string) func(string) map[string]any {
		return func(string) map[string]any {
			return map[string]any{
				"client_secret": secret, "token_endpoint_auth_method": method,
				"response_types": responseTypes, "grant_types": grants,
			}
		}
	}
	codeConfig := func(cfg *oidc.Config) {
		cfg.ClientSecret = secret
		cfg.AuthorizationParams = map[string]string{"response_type": "code", "response_mode": "query"}
	}
	return []rpSpec{
		{
			name: "implicit",
			client: func(string) map[string]any {
				return map[string]any{
					"response_types": []string{"id_token"}, "grant_types": []string{"implicit"},
					"token_endpoint_auth_method": "none",
				}
			},
			configure: func(*oidc.Config) {}, // the defaults: id_token, form_post
		},
		{
			name:   "code",
			client: secretClient("client_secret_basic", []string{"code"}, "authorization_code", "refresh_token", tokenExchangeGrant),
			configure: func(cfg *oidc.Config) {
				codeConfig(cfg)
				cfg.IDPLogout = true
			},
		},
		{
			name:   "hybrid",
			client: secretClient("client_secret_post", []string{"code id_token"}, "authorization_code", "implicit", "refresh_token"),
			configure: func(cfg *oidc.Config) {
				cfg.ClientSecret = secret
				cfg.ClientAuthMethod = "client_secret_post"
				cfg.AuthorizationParams = map[string]string{"response_type": "code id_token"}
			},
		},
		{
			name: "private-key-jwt",
			client: func(string) map[string]any {
				return map[string]any{
					"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256",
					"jwks":           map[string]any{"keys": []any{rsaPub}},
					"response_types": []string{"code"}, "grant_types": []string{"authorization_code", "refresh_token"},
				}
			},
			configure: func(cfg *oidc.Config) {
				cfg.AuthorizationParams = map[string]string{"response_type": "code"}
				cfg.ClientAssertionSigningKey = keys.assertion
			},
		},
		{
			name:   "client-secret-jwt",
			client: secretClient("client_secret_jwt", []string{"code"}, "authorization_code", "refresh_token"),
			configure: func(cfg *oidc.Config) {
				codeConfig(cfg)
				cfg.ClientAuthMethod = "client_secret_jwt"
			},
		},
		{
			name: "par",
			client: func(base string) map[string]any {
				m := secretClient("client_secret_basic", []string{"code"}, "authorization_code")(base)
				m["require_pushed_authorization_requests"] = true
				return m
			},
			configure: func(cfg *oidc.Config) {
				codeConfig(cfg)
				cfg.PushedAuthorizationRequests = true
			},
		},
		{
			// JAR + PAR + private_key_jwt, as express-openid-connect's own
			// end-to-end test.
			name: "jar-par",
			client: func(string) map[string]any {
				return map[string]any{
					"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256",
					"jwks":                                  map[string]any{"keys": []any{rsaPub, ecPub}},
					"request_object_signing_alg":            "ES256",
					"require_signed_request_object":         true,
					"require_pushed_authorization_requests": true,
					"response_types":                        []string{"code"}, "grant_types": []string{"authorization_code"},
				}
			},
			configure: func(cfg *oidc.Config) {
				cfg.AuthorizationParams = map[string]string{"response_type": "code"}
				cfg.ClientAssertionSigningKey = keys.assertion
				cfg.RequestObjectSigningKey = keys.request
				cfg.RequestObjectSigningAlg = "ES256"
				cfg.RequestObjectSigningKeyID = requestKeyID
				cfg.PushedAuthorizationRequests = true
			},
		},
		{
			name: "backchannel",
			client: func(base string) map[string]any {
				m := secretClient("client_secret_basic", []string{"code"}, "authorization_code")(base)
				m["backchannel_logout_uri"] = base + "/backchannel-logout"
				m["backchannel_logout_session_required"] = true
				return m
			},
			configure: func(cfg *oidc.Config) {
				codeConfig(cfg)
				cfg.BackchannelLogout = &oidc.BackchannelLogoutConfig{Store: oidc.NewMemoryStore()}
			},
		},
		{
			name: "backchannel-store",
			client: func(base string) map[string]any {
				m := secretClient("client_secret_basic", []string{"id_token"}, "implicit")(base)
				m["token_endpoint_auth_method"] = "none"
				delete(m, "client_secret")
				m["backchannel_logout_uri"] = base + "/backchannel-logout"
				m["backchannel_logout_session_required"] = true
				return m
			},
			configure: func(cfg *oidc.Config) {
				cfg.Session.Store = oidc.NewMemoryStore() // signed id cookie: the default
				cfg.BackchannelLogout = &oidc.BackchannelLogoutConfig{}
			},
		},
	}, nil
}

// rp is a running Go relying party.
type rp struct {
	name string
	base string
	cfg  oidc.Config
	srv  *httptest.Server

	mu          sync.Mutex
	backchannel []int // statuses of the back-channel logout requests received
}

func (a *rp) url(path string) string { return a.base + path }

func (a *rp) backchannelStatuses() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.backchannel...)
}

// opWorld is node-oidc-provider with its Go relying parties.
type opWorld struct {
	issuer string
	proc   *nodeProc
	rps    map[string]*rp
}

var (
	opOnce  sync.Once
	opState *opWorld
	opErr   error
)

// nodeProvider returns the running node-oidc-provider world, starting it on
// first use.
func nodeProvider(t testing.TB) *opWorld {
	t.Helper()
	needNode(t)
	opOnce.Do(func() { opState, opErr = startOPWorld() })
	require.NoError(t, opErr)
	opState.proc.dumpLogsOnFailure(t)
	return opState
}

func (w *opWorld) rp(t testing.TB, name string) *rp {
	t.Helper()
	a, ok := w.rps[name]
	require.True(t, ok, "no relying party %q", name)
	return a
}

func startOPWorld() (*opWorld, error) {
	dir, err := os.MkdirTemp("", "oidc-interop-")
	if err != nil {
		return nil, err
	}
	atExit(func() { _ = os.RemoveAll(dir) })
	certFile, err := testCertFile(dir)
	if err != nil {
		return nil, err
	}
	keys, err := newRPKeys()
	if err != nil {
		return nil, err
	}
	specs, err := rpSpecs(keys)
	if err != nil {
		return nil, err
	}

	w := &opWorld{rps: map[string]*rp{}}
	var clients []map[string]any
	for _, spec := range specs {
		srv := httptest.NewUnstartedServer(nil)
		atExit(srv.Close)
		a := &rp{name: spec.name, srv: srv, base: "https://" + srv.Listener.Addr().String()}
		client := map[string]any{
			"client_id":                 "go-" + spec.name,
			"redirect_uris":             []string{a.url("/callback")},
			"post_logout_redirect_uris": []string{a.base, a.url("/")},
		}
		for k, v := range spec.client(a.base) {
			client[k] = v
		}
		clients = append(clients, client)
		w.rps[spec.name] = a
	}
	clientsFile := filepath.Join(dir, "clients.json")
	data, err := json.MarshalIndent(clients, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(clientsFile, data, 0o600); err != nil {
		return nil, err
	}
	w.proc, w.issuer, err = startNode("node-oidc-provider", "provider.mjs",
		[]string{"NODE_EXTRA_CA_CERTS=" + certFile},
		"--port", "0", "--clients", clientsFile, "--exit-with-stdin")
	if err != nil {
		return nil, err
	}

	for _, spec := range specs {
		a := w.rps[spec.name]
		a.cfg = oidc.Config{
			Secret:        oidc.Secrets{interopSecret},
			IssuerBaseURL: w.issuer,
			BaseURL:       a.base,
			ClientID:      "go-" + spec.name,
			AuthRequired:  oidc.Bool(false),
			LookupEnv:     func(string) (string, bool) { return "", false },
		}
		spec.configure(&a.cfg)
		m, err := oidc.New(a.cfg)
		if err != nil {
			return nil, fmt.Errorf("relying party %s: %w", spec.name, err)
		}
		a.srv.Config.Handler = a.record(m.Handler(rpHandler()))
		a.srv.StartTLS()
	}
	return w, nil
}

// record wraps the application to note the back-channel logout responses.
func (a *rp) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/backchannel-logout" {
			next.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		a.mu.Lock()
		a.backchannel = append(a.backchannel, rec.status)
		a.mu.Unlock()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// rpHandler is the application behind every Go relying party. The JSON
// routes expose tokens, which only a test application may do.
func rpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", oidc.FromRequest(r).User().String("sub"))
	})
	mux.HandleFunc("GET /session", func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		out := sessionView{Authenticated: c.IsAuthenticated(), User: c.User(), Claims: c.IDTokenClaims()}
		if s, ok := c.Session(); ok {
			out.AccessToken, out.RefreshToken, out.IDToken = string(s.AccessToken), string(s.RefreshToken), string(s.IDToken)
			out.TokenType, out.ExpiresAt, out.SID = s.TokenType, s.ExpiresAt, s.SID
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /refresh", func(w http.ResponseWriter, r *http.Request) {
		at, err := oidc.FromRequest(r).Refresh(r.Context(), oidc.RefreshOptions{})
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": string(at.Token), "type": at.Type, "expires_at": at.ExpiresAt.Unix()})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		claims, err := oidc.FromRequest(r).FetchUserInfo(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, claims)
	})
	mux.HandleFunc("GET /exchange", func(w http.ResponseWriter, r *http.Request) {
		res, err := oidc.FromRequest(r).CustomTokenExchange(r.Context(), oidc.TokenExchangeOptions{
			Scope: r.URL.Query().Get("scope"),
		})
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": string(res.AccessToken), "issued_token_type": res.IssuedTokenType,
			"token_type": res.TokenType, "expires_in": res.ExpiresIn.Seconds(), "scope": res.Scope,
		})
	})
	return mux
}

// sessionView is what GET /session answers.
type sessionView struct {
	Authenticated bool           `json:"authenticated"`
	User          map[string]any `json:"user"`
	Claims        map[string]any `json:"claims"`
	IDToken       string         `json:"id_token"`
	AccessToken   string         `json:"access_token"`
	RefreshToken  string         `json:"refresh_token"`
	TokenType     string         `json:"token_type"`
	ExpiresAt     int64          `json:"expires_at"`
	SID           string         `json:"sid"`
}

// errorView is the JSON answer of a failed token API call.
type errorView struct {
	Error  string `json:"error"`
	Code   string `json:"code"`
	Status int    `json:"status"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	out := errorView{Error: err.Error(), Status: http.StatusInternalServerError}
	var pe *oidc.ProviderError
	var oe *oidc.Error
	switch {
	case errors.As(err, &pe):
		out.Code, out.Status = pe.Code, pe.StatusCode
	case errors.As(err, &oe):
		out.Code, out.Status = oe.Code, oe.Status
	}
	writeJSON(w, out.Status, out)
}

// atExit registers cleanups that TestMain runs after the tests.
func atExit(f func()) {
	procsMu.Lock()
	defer procsMu.Unlock()
	exitFuncs = append(exitFuncs, f)
}

var exitFuncs []func()
