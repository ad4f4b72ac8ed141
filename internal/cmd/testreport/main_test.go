package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReport(t *testing.T) {
	t.Parallel()
	const stream = `{"Action":"start","Package":"ex/a"}
{"Action":"run","Package":"ex/a","Test":"TestOK"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"ex/a","Test":"TestOK","Elapsed":0}
{"Action":"run","Package":"ex/a","Test":"TestNode"}
{"Action":"output","Package":"ex/a","Test":"TestNode","Output":"    node_test.go:65: interop: node is not installed\n"}
{"Action":"output","Package":"ex/a","Test":"TestNode","Output":"--- SKIP: TestNode (0.00s)\n"}
{"Action":"skip","Package":"ex/a","Test":"TestNode","Elapsed":0}
{"Action":"run","Package":"ex/a","Test":"TestNode2"}
{"Action":"output","Package":"ex/a","Test":"TestNode2","Output":"    node_test.go:65: interop: node is not installed\n"}
{"Action":"skip","Package":"ex/a","Test":"TestNode2","Elapsed":0}
{"Action":"pass","Package":"ex/a","Elapsed":0.5}
`
	cases := []struct {
		name    string
		input   string
		ok      bool
		summary string
		log     string
	}{
		{"passes and skips", stream, true,
			"ok   m: 3 tests in 1 packages, 0 failed, 2 skipped (2× interop: node is not installed)", "ok   ex/a 0.5s"},
		{"a failing test", `{"Action":"run","Package":"ex/b","Test":"TestBad"}
{"Action":"output","Package":"ex/b","Test":"TestBad","Output":"    bad_test.go:3: boom\n"}
{"Action":"fail","Package":"ex/b","Test":"TestBad","Elapsed":0}
{"Action":"fail","Package":"ex/b","Elapsed":0.1}
`, false, "FAIL m: 1 tests in 1 packages, 1 failed, 0 skipped", "boom"},
		{"a build failure", `{"Action":"output","Package":"ex/c","Output":"# ex/c\nc.go:1: syntax error\n"}
{"Action":"fail","Package":"ex/c","Elapsed":0}
`, false, "FAIL m: 0 tests in 1 packages, 0 failed, 0 skipped", "syntax error"},
		{"no events", "go: cannot find main module\n", false, "ok   m: 0 tests in 0 packages, 0 failed, 0 skipped", "cannot find main module"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &report{skipReasons: map[string]int{}, output: map[string][]string{}}
			var log strings.Builder
			ok := r.read(strings.NewReader(tc.input), &log)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.summary, r.summary("m"))
			assert.Contains(t, log.String(), tc.log)
		})
	}
}
