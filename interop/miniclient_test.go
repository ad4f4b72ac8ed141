package interop

// miniClient is a bare OAuth client for the profile tests: it drives
// node-oidc-provider's automatic sign-in by HTTP, authenticates with a
// client secret or a private_key_jwt assertion, and sends DPoP proofs,
// retrying once when the provider asks for a nonce. The profile tests use
// it where the library is not the subject, and the DPoP tests for the
// requests an attacker would build by hand (dpop_test.go).

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

const miniRedirectURI = "https://rp.example/cb"

type miniClient struct {
	issuer   string
	doc      map[string]any // discovery
	clientID string
	secret   string        // client_secret_basic, or
	key      crypto.Signer // private_key_jwt
	keyAlg   string
	dpop     *oidctest.DPoPKey // nil: no proofs
	nonce    string            // last DPoP-Nonce seen
}

// reply is a decoded JSON response.
type reply struct {
	status int
	body   map[string]any
	header http.Header
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

func newMiniClient(t *testing.T, issuer, clientID string) *miniClient {
	t.Helper()
	c := &miniClient{issuer: issuer, clientID: clientID}
	require.NoError(t, getJSONDoc(issuer+"/.well-known/openid-configuration", &c.doc))
	return c
}

func (c *miniClient) endpoint(name string) string { s, _ := c.doc[name].(string); return s }

// pkce returns a verifier and its S256 challenge.
func pkce() (string, string) {
	v := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(v))
	return v, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize sends the browser to the authorization endpoint with params
// and follows the provider's redirects (its automatic sign-in and
// consent) up to the redirect URI, whose query it returns.
func (c *miniClient) authorize(t *testing.T, params url.Values) url.Values {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	var landed *url.URL
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), miniRedirectURI) {
			landed = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := hc.Get(c.endpoint("authorization_endpoint") + "?" + params.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	if landed == nil {
		// An error page of the provider, e.g. a refused request.
		return url.Values{"error": {"status " + resp.Status}}
	}
	return landed.Query()
}

// post sends a client request (token, PAR) with client authentication and
// a DPoP proof, once more with the provider's nonce if it asks for one.
func (c *miniClient) post(t *testing.T, endpoint string, form url.Values) reply {
	t.Helper()
	target := c.endpoint(endpoint)
	for attempt := 0; ; attempt++ {
		r := c.send(t, http.MethodPost, target, form, "", "")
		if attempt == 0 && r.str("error") == "use_dpop_nonce" {
			continue
		}
		return r
	}
}

// call sends a resource request with the access token of tokenType,
// retrying once with the provider's nonce.
func (c *miniClient) call(t *testing.T, method, target, tokenType, at string) reply {
	t.Helper()
	for attempt := 0; ; attempt++ {
		r := c.send(t, method, target, nil, tokenType, at)
		if attempt == 0 && r.status == http.StatusUnauthorized && strings.Contains(r.header.Get("WWW-Authenticate"), "use_dpop_nonce") {
			continue
		}
		return r
	}
}

func (c *miniClient) send(t *testing.T, method, target string, form url.Values, tokenType, at string) reply {
	t.Helper()
	var body string
	if form != nil {
		form = cloneValues(form)
		c.authenticate(t, form)
		body = form.Encode()
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c.key == nil {
			req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.secret))
		}
	}
	if at != "" {
		req.Header.Set("Authorization", tokenType+" "+at)
	}
	if c.dpop != nil {
		proofAT := ""
		if tokenType == "DPoP" {
			proofAT = at
		}
		p, err := oidctest.DPoPProof(c.dpop, method, target, c.nonce, proofAT)
		require.NoError(t, err)
		req.Header.Set("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if n := resp.Header.Get("DPoP-Nonce"); n != "" {
		c.nonce = n
	}
	out := reply{status: resp.StatusCode, header: resp.Header}
	_ = json.NewDecoder(resp.Body).Decode(&out.body)
	return out
}

// authenticate adds a private_key_jwt assertion when the client has a key.
func (c *miniClient) authenticate(t *testing.T, form url.Values) {
	t.Helper()
	if c.key == nil {
		return
	}
	now := time.Now().Unix()
	a, err := oidctest.SignJWT(map[string]any{"alg": c.keyAlg}, map[string]any{
		"iss": c.clientID, "sub": c.clientID, "aud": c.issuer, "jti": rand.Text(),
		"iat": now, "nbf": now, "exp": now + 60,
	}, c.key)
	require.NoError(t, err)
	form.Set("client_assertion_type", oidctest.ClientAssertionType)
	form.Set("client_assertion", a)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// jwtClaims decodes the payload of a JWT without verifying it.
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3, "not a JWT: %q", tok)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}
