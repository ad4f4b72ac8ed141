module github.com/openidconnect-go/oidc/interop

go 1.26.0

// The npm dependencies (npm ci) hold no Go code.
ignore ./node_modules

require (
	github.com/openidconnect-go/oidc v0.0.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/coreos/go-oidc/v3 v3.21.0 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/oauth2 v0.38.0 // indirect
)

replace github.com/openidconnect-go/oidc => ../
