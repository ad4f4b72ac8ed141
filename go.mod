module github.com/openidconnect-go/oidc

go 1.26.0

require (
	github.com/coreos/go-oidc/v3 v3.21.0
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/stretchr/testify v1.12.1
	golang.org/x/oauth2 v0.38.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
