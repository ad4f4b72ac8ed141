package interop

// fakeAPI is a protected resource for the client tests against
// node-oidc-provider's resources and dpop profiles: it accepts only JWT
// access tokens (RFC 9068) that the provider signed (its JWKS), for its own
// audience, and, for tokens with cnf.jkt, only with the DPoP scheme and a
// valid proof of that key (RFC 9449 §7). It answers JSON with the token's
// sub, aud, scope, client_id and jkt, and RFC 6750 / RFC 9449 errors.

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// proofWindow is how far a DPoP proof's iat may be from the API's clock.
const proofWindow = 60 * time.Second

var (
	tokenAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA}
	proofAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.PS256, jose.RS256}
)

type fakeAPI struct {
	issuer   string
	audience string
	keys     jose.JSONWebKeySet // the provider's signing keys
	now      func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // jkt + jti of accepted proofs
}

// newFakeAPI returns an API for audience that trusts tokens of issuer
// signed with keys. now defaults to time.Now.
func newFakeAPI(issuer, audience string, keys jose.JSONWebKeySet, now func() time.Time) *fakeAPI {
	if now == nil {
		now = time.Now
	}
	return &fakeAPI{issuer: issuer, audience: audience, keys: keys, now: now, seen: map[string]time.Time{}}
}

// fetchJWKS reads the provider's JWKS.
func fetchJWKS(issuer string) (jose.JSONWebKeySet, error) {
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	var set jose.JSONWebKeySet
	if err := getJSONDoc(issuer+"/.well-known/openid-configuration", &doc); err != nil {
		return set, err
	}
	return set, getJSONDoc(doc.JWKSURI, &set)
}

func getJSONDoc(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// apiError is a refused request: an RFC 6750 / 9449 error in scheme.
type apiError struct {
	scheme, code, desc string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	claims, jkt, aerr := f.authenticate(r)
	w.Header().Set("Content-Type", "application/json")
	if aerr != nil {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`%s error=%q, error_description=%q`, aerr.scheme, aerr.code, aerr.desc))
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": aerr.code, "error_description": aerr.desc})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sub": claims["sub"], "aud": claims["aud"], "scope": claims["scope"],
		"client_id": claims["client_id"], "jkt": jkt,
	})
}

// authenticate checks the access token and, for a DPoP-bound one, the
// proof; it returns the token's claims and jkt.
func (f *fakeAPI) authenticate(r *http.Request) (map[string]any, string, *apiError) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	isDPoP := strings.EqualFold(scheme, "DPoP")
	errScheme := "Bearer"
	if isDPoP {
		errScheme = "DPoP"
	}
	invalid := func(desc string) (map[string]any, string, *apiError) {
		return nil, "", &apiError{errScheme, "invalid_token", desc}
	}
	if !isDPoP && !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return invalid("no access token")
	}
	claims, err := f.verifyToken(tok)
	if err != nil {
		return invalid(err.Error())
	}
	cnf, _ := claims["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	proofs := r.Header.Values("DPoP")
	switch {
	case jkt == "" && (isDPoP || len(proofs) > 0):
		return invalid("the access token is not DPoP-bound")
	case jkt == "":
		return claims, "", nil
	case !isDPoP:
		return nil, "", &apiError{"DPoP", "invalid_token", "a DPoP-bound access token needs the DPoP scheme"}
	case len(proofs) != 1:
		return nil, "", &apiError{"DPoP", "invalid_dpop_proof", "exactly one DPoP proof is required"}
	}
	got, err := f.verifyProof(proofs[0], r, tok)
	if err != nil {
		return nil, "", &apiError{"DPoP", "invalid_dpop_proof", err.Error()}
	}
	if got != jkt {
		return invalid("the DPoP proof key is not the access token's (cnf.jkt)")
	}
	return claims, jkt, nil
}

// verifyToken checks an RFC 9068 access token: typ at+jwt, a signature by
// a key of the JWKS, iss, aud and exp.
func (f *fakeAPI) verifyToken(tok string) (map[string]any, error) {
	jws, err := jose.ParseSignedCompact(tok, tokenAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("the access token is not a signed JWT")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders["typ"].(string); !strings.EqualFold(strings.TrimPrefix(typ, "application/"), "at+jwt") {
		return nil, fmt.Errorf("the access token's typ is not at+jwt")
	}
	var payload []byte
	for _, k := range f.keys.Key(h.KeyID) {
		if payload, err = jws.Verify(k.Public().Key); err == nil {
			break
		}
	}
	if payload == nil {
		return nil, fmt.Errorf("the access token's signature does not verify")
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	if claims["iss"] != f.issuer {
		return nil, fmt.Errorf("the access token is from another issuer")
	}
	if !audienceHas(claims["aud"], f.audience) {
		return nil, fmt.Errorf("the access token is not for %s", f.audience)
	}
	if exp, ok := claims["exp"].(float64); !ok || !f.now().Before(time.Unix(int64(exp), 0)) {
		return nil, fmt.Errorf("the access token has expired")
	}
	return claims, nil
}

func audienceHas(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return slices.Contains(a, any(want))
	}
	return false
}

// verifyProof checks a DPoP proof for r and the access token tok (RFC 9449
// §4.3) and returns its key's thumbprint.
func (f *fakeAPI) verifyProof(raw string, r *http.Request, tok string) (string, error) {
	jws, err := jose.ParseSignedCompact(raw, proofAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", fmt.Errorf("the DPoP proof is not a signed JWT")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != "dpop+jwt" {
		return "", fmt.Errorf("the DPoP proof's typ is not dpop+jwt")
	}
	if h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() || !h.JSONWebKey.Valid() {
		return "", fmt.Errorf("the DPoP proof has no public jwk")
	}
	payload, err := jws.Verify(h.JSONWebKey.Key)
	if err != nil {
		return "", fmt.Errorf("the DPoP proof's signature does not verify")
	}
	var c struct {
		JTI   string          `json:"jti"`
		HTM   string          `json:"htm"`
		HTU   string          `json:"htu"`
		IAT   json.RawMessage `json:"iat"`
		ATH   string          `json:"ath"`
		Nonce string          `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", fmt.Errorf("the DPoP proof's claims are malformed")
	}
	var iat float64
	if json.Unmarshal(c.IAT, &iat) != nil {
		return "", fmt.Errorf("the DPoP proof has no numeric iat")
	}
	now := f.now()
	htu, _, _ := strings.Cut(c.HTU, "?")
	htu, _, _ = strings.Cut(htu, "#")
	sum := sha256.Sum256([]byte(tok))
	switch {
	case c.JTI == "":
		return "", fmt.Errorf("the DPoP proof has no jti")
	case c.HTM != r.Method:
		return "", fmt.Errorf("the DPoP proof's htm is not %s", r.Method)
	case htu != requestURL(r):
		return "", fmt.Errorf("the DPoP proof's htu is not %s", requestURL(r))
	case now.Sub(time.Unix(int64(iat), 0)).Abs() > proofWindow:
		return "", fmt.Errorf("the DPoP proof's iat is not recent")
	case !bytes.Equal([]byte(c.ATH), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))):
		return "", fmt.Errorf("the DPoP proof's ath does not match the access token")
	}
	tp, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	jkt := base64.RawURLEncoding.EncodeToString(tp)
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, until := range f.seen {
		if now.After(until) {
			delete(f.seen, k)
		}
	}
	if _, dup := f.seen[jkt+" "+c.JTI]; dup {
		return "", fmt.Errorf("the DPoP proof was replayed")
	}
	f.seen[jkt+" "+c.JTI] = now.Add(2 * proofWindow)
	return jkt, nil
}

// requestURL is the URL r was sent to, without query.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}
