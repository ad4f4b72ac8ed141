// Command testreport reads the output of `go test -json` on standard input,
// prints a compact human-readable log (one line per package, and the output
// of every failing test), and appends a one-line summary for the module to a
// file: how many tests ran, failed and were skipped, and why they were
// skipped. `make test` runs it for every module and prints the summaries at
// the end, so that a skipped suite is never silent.
//
// Usage:
//
//	go test -json ./... | testreport -module NAME -summary FILE
//
// It exits with status 1 when a test or a package failed, when a package did
// not build, or when the input held no test events at all.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// report accumulates what the summary needs.
type report struct {
	run, passed, failed, skipped int
	packages, failedPkgs         int
	skipReasons                  map[string]int
	// output holds the output lines of tests (and packages) in progress,
	// keyed by package and test name.
	output map[string][]string
}

func main() {
	module := flag.String("module", "", "module name for the summary line")
	summary := flag.String("summary", "", "file the summary line is appended to")
	flag.Parse()
	r := &report{skipReasons: map[string]int{}, output: map[string][]string{}}
	ok := r.read(os.Stdin, os.Stdout)
	line := r.summary(*module)
	if *summary != "" {
		f, err := os.OpenFile(*summary, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = io.WriteString(f, line+"\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "testreport:", err)
			os.Exit(1)
		}
	}
	if !ok {
		os.Exit(1)
	}
}

// read consumes the event stream, writes the log to out and reports whether
// everything passed.
func (r *report) read(in io.Reader, out io.Writer) bool {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	events := 0
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			// Not an event (for example a build error printed by go test
			// itself): show it as it is.
			fmt.Fprintln(out, string(line))
			continue
		}
		events++
		r.handle(ev, out)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testreport: reading input:", err)
		return false
	}
	if events == 0 {
		fmt.Fprintln(out, "testreport: no test events on input (did go test start?)")
		return false
	}
	return r.failed == 0 && r.failedPkgs == 0
}

func (r *report) handle(ev event, out io.Writer) {
	key := ev.Package + "\x00" + ev.Test
	switch ev.Action {
	case "output":
		r.output[key] = append(r.output[key], ev.Output)
		return
	case "run":
		if ev.Test != "" && !strings.Contains(ev.Test, "/") {
			r.run++
		}
		return
	}
	if ev.Test != "" {
		top := !strings.Contains(ev.Test, "/")
		switch ev.Action {
		case "pass":
			if top {
				r.passed++
			}
		case "fail":
			if top {
				r.failed++
			}
			fmt.Fprintf(out, "--- FAIL: %s (%s)\n", ev.Test, ev.Package)
			for _, l := range r.output[key] {
				fmt.Fprint(out, l)
			}
		case "skip":
			if top {
				r.skipped++
				r.skipReasons[skipReason(r.output[key])]++
			}
		}
		delete(r.output, key)
		return
	}
	// Package-level events.
	switch ev.Action {
	case "pass":
		r.packages++
		fmt.Fprintf(out, "ok   %s %.1fs\n", ev.Package, ev.Elapsed)
	case "skip":
		fmt.Fprintf(out, "?    %s [no test files]\n", ev.Package)
	case "fail":
		r.packages++
		r.failedPkgs++
		fmt.Fprintf(out, "FAIL %s\n", ev.Package)
		for _, l := range r.output[key] {
			if !strings.HasPrefix(l, "=== ") {
				fmt.Fprint(out, l)
			}
		}
	}
	delete(r.output, key)
}

// skipReason picks the message a test gave to t.Skip: the last output line
// before the "--- SKIP" line, without its file:line prefix.
func skipReason(lines []string) string {
	reason := "no reason given"
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		if i := strings.Index(t, ".go:"); i >= 0 {
			if j := strings.Index(t[i:], ": "); j >= 0 {
				t = t[i+j+2:]
			}
		}
		reason = t
	}
	return reason
}

// summary is the one-line verdict for the module, with skip reasons.
func (r *report) summary(module string) string {
	var b strings.Builder
	status := "ok"
	if r.failed > 0 || r.failedPkgs > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(&b, "%-4s %s: %d tests in %d packages, %d failed, %d skipped",
		status, module, r.run, r.packages, r.failed, r.skipped)
	if len(r.skipReasons) > 0 {
		reasons := make([]string, 0, len(r.skipReasons))
		for k := range r.skipReasons {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		parts := make([]string, 0, len(reasons))
		for _, k := range reasons {
			parts = append(parts, fmt.Sprintf("%d× %s", r.skipReasons[k], k))
		}
		b.WriteString(" (" + strings.Join(parts, "; ") + ")")
	}
	return b.String()
}
