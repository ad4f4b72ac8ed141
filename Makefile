GO ?= go
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: test bench lint cover fuzz interop-fixtures

BIN := $(CURDIR)/.bin
SUMMARY := $(BIN)/test-summary.txt

# test vets and tests every module (the root module with its internal and
# oidctest packages, then interop, e2e and redisstore), with the race detector
# except in e2e. Every module runs even when an earlier one fails; at the end
# one line per module says how many tests ran, failed and were skipped, and
# why. The redisstore tests need redis-server on PATH; interop and e2e need
# Node.js >= 20.19 and `cd interop && npm ci`, and e2e also Chromium. Without
# them those tests skip (and fail instead when CI=true); `.ci/run` installs
# everything.
test:
	@mkdir -p $(BIN) && rm -f $(SUMMARY)
	@$(GO) build -o $(BIN)/testreport ./internal/cmd/testreport
	@status=0; \
	run() { \
		dir=$$1; name=$$2; shift 2; \
		echo "== $$name: go vet and go test $$*"; \
		if ! (cd $$dir && $(GO) vet ./...); then \
			echo "FAIL $$name: go vet failed" >> $(SUMMARY); status=1; return; \
		fi; \
		(cd $$dir && $(GO) test -json -count=1 "$$@" ./... 2>&1) | \
			$(BIN)/testreport -module $$name -summary $(SUMMARY) || status=1; \
	}; \
	run . root -race; \
	run interop interop -race; \
	run e2e e2e; \
	run redisstore redisstore -race; \
	echo; echo "== summary"; cat $(SUMMARY); \
	exit $$status

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
