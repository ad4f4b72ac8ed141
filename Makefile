GO ?= go
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: test bench lint cover fuzz

# test runs every test of the module, with the race detector.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# bench runs the benchmarks in a benchstat-friendly format.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

# lint checks formatting, vet and staticcheck.
lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt needed"; exit 1)
	$(GO) vet ./...
	@test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(STATICCHECK) ./...

# cover reports coverage of the root package and internal/.
cover:
	$(GO) test -count=1 -coverprofile=cover.out . ./internal/...
	$(GO) tool cover -func=cover.out | tail -1

# fuzz runs each fuzz target briefly.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzResolve -fuzztime 20s ./internal/safeurl/
	$(GO) test -run '^$$' -fuzz FuzzDecrypt -fuzztime 20s ./internal/cookiecrypto/
