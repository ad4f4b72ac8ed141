module github.com/openidconnect-go/oidc/redisstore

go 1.26.0

require (
	github.com/openidconnect-go/oidc v0.0.0
	github.com/redis/go-redis/v9 v9.23.0 // >= 9.7.3: GHSA-92cp-5422-2mw7
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/coreos/go-oidc/v3 v3.21.0 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/oauth2 v0.38.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/openidconnect-go/oidc => ../
