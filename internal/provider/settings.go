package provider

import (
	"crypto"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Client authentication methods at the token, PAR and revocation endpoints.
const (
	AuthNone          = "none"
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthSecretJWT     = "client_secret_jwt"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthTLSClient     = "tls_client_auth" // selected by UseMTLS only
)

// Settings is what the Client needs of the root package's validated
// configuration. The root package builds it once, after validation; the
// Client does not check it again. Every field is required unless it says
// otherwise.
type Settings struct {
	// IssuerBaseURL is the configured issuer, or the URL of a .well-known
	// discovery document.
	IssuerBaseURL string
	// ClientID and ClientSecret identify the client. ClientSecret is empty
	// for private_key_jwt, tls_client_auth and none; it is also the MAC key
	// of HS* ID tokens.
	ClientID     string
	ClientSecret string
	// AuthMethod is one of the Auth* constants.
	AuthMethod string
	// AssertionKey signs private_key_jwt assertions; AssertionAlg is the
	// algorithm of private_key_jwt and client_secret_jwt assertions.
	AssertionKey crypto.Signer
	AssertionAlg string
	// RequestKey, when set, signs request objects (JAR) with RequestAlg;
	// RequestKeyID, when set, is their kid header.
	RequestKey   crypto.Signer
	RequestAlg   string
	RequestKeyID string
	// PAR pushes authorization requests (RFC 9126).
	PAR bool
	// UseMTLS uses the provider's mtls_endpoint_aliases (RFC 8705 §5); the
	// certificate is HTTPClient's.
	UseMTLS bool
	// IDTokenAlg is the one algorithm ID tokens and logout tokens may be
	// signed with.
	IDTokenAlg string
	// DPoPKey, when set, turns DPoP on (RFC 9449; see dpop.go). DPoPAlg is
	// the configured proof algorithm (one DPoPKey can sign), or "" to
	// choose it from the provider's list. DPoPAllowBearer accepts a Bearer
	// token from a provider that advertises DPoP.
	DPoPKey         *DPoPKey
	DPoPAlg         string
	DPoPAllowBearer bool

	// HTTPClient is the application's client; New derives its own from it.
	HTTPClient  *http.Client
	HTTPTimeout time.Duration
	UserAgent   string
	// DiscoveryTTL is how long discovered metadata is used before it is
	// fetched again; JWKSMaxAge how long fetched keys are trusted.
	DiscoveryTTL time.Duration
	JWKSMaxAge   time.Duration

	Logger *slog.Logger
	Now    func() time.Time
	Random io.Reader
}
