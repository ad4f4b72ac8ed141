GO ?= go
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: test bench lint cover fuzz interop-fixtures

# test runs every test of the module, and of the interop, e2e and redisstore
# modules, with the race detector. The redisstore tests need redis-server on
# PATH; the interop and e2e tests need node and `cd interop && npm ci` (they
# skip without them, and fail instead when CI=true).
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	cd interop && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd e2e && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd redisstore && $(GO) vet ./... && $(GO) test -race -count=1 ./...

# bench runs the benchmarks in a benchstat-friendly format.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

# lint checks formatting, vet and staticcheck.
lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt needed"; exit 1)
	$(GO) vet ./...
	@test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(STATICCHECK) ./...
	cd redisstore && $(GO) vet ./... && $(STATICCHECK) ./...
	cd interop && $(GO) vet ./... && $(STATICCHECK) ./...

# cover reports coverage of the root package and internal/.
cover:
	$(GO) test -count=1 -coverprofile=cover.out . ./internal/...
	$(GO) tool cover -func=cover.out | tail -1

# fuzz runs every fuzz target of the module briefly (FUZZTIME each). The
# targets are discovered with `go test -list`, so new ones are included
# without editing this file.
FUZZTIME ?= 20s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# interop-fixtures regenerates the cookies minted by the real
# express-openid-connect that interop/fixtures_test.go reads without Node
# (needs node and `cd interop && npm ci`).
interop-fixtures:
	cd interop && node gen_fixtures.mjs > ../testdata/interop/express-openid-connect.json.tmp
	mv testdata/interop/express-openid-connect.json.tmp testdata/interop/express-openid-connect.json
