package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	// actionTimeout bounds every single browser action.
	actionTimeout = 10 * time.Second
	// flowTimeout bounds a wait for a page that arrives after several
	// redirects and auto-submitted forms.
	flowTimeout = 15 * time.Second
	// artifactsDir receives screenshots of failed tests (gitignored).
	artifactsDir = "artifacts"
)

// inCI reports whether the tests run in CI, where a missing tool is a failure
// and not a reason to skip.
func inCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// requireTool returns the path of the first candidate that exists (absolute
// paths) or is found on PATH (names). When none is found the test is skipped,
// or fails under CI=true.
func requireTool(t *testing.T, what, hint string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if filepath.IsAbs(c) {
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				return c
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found (looked for %s); %s", what, strings.Join(candidates, ", "), hint)
	if inCI() {
		t.Fatalf("CI=true and %s", msg)
	}
	t.Skip(msg)
	return ""
}

// chromiumPath returns the Chromium binary, or skips (fails under CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	return requireTool(t, "Chromium", "install Debian's chromium package",
		"/usr/bin/chromium", "chromium", "chromium-browser")
}

// newBrowser starts a fresh headless Chromium with an empty profile and
// returns a context for one tab. The browser is closed when the test ends; if
// the test failed, a screenshot is saved first (see saveFailureArtifacts).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	execPath := chromiumPath(t)
	var out lockedBuffer
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.WindowSize(1024, 900),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(&out),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		if t.Failed() {
			if s := chromiumLog(out.String()); s != "" {
				t.Logf("chromium output:\n%s", tail(s, 4000))
			}
		}
	})

	// The first action starts the browser and binds it to ctx, so it runs
	// without a deadline of its own; a timer bounds it instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v\n%s", execPath, err, tail(chromiumLog(out.String()), 4000))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("starting %s: no answer after 30s\n%s", execPath, tail(chromiumLog(out.String()), 4000))
	}
	// Registered after the browser's own cleanup, so it runs before it.
	t.Cleanup(func() { saveFailureArtifacts(t, ctx) })
	return ctx
}

// saveFailureArtifacts saves a full-page screenshot and the page's HTML to
// artifacts/ when the test has failed.
func saveFailureArtifacts(t *testing.T, ctx context.Context) {
	if !t.Failed() {
		return
	}
	dir, err := filepath.Abs(artifactsDir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Logf("no failure screenshot: %v", err)
		return
	}
	base := filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_"))
	sctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no failure screenshot: %v", err)
	} else if err := os.WriteFile(base+".png", png, 0o644); err != nil {
		t.Logf("no failure screenshot: %v", err)
	} else {
		t.Logf("failure screenshot: %s.png", base)
	}
	if loc, html, err := page(sctx); err == nil {
		if err := os.WriteFile(base+".html", []byte("<!-- "+loc+" -->\n"+html), 0o644); err == nil {
			t.Logf("failure page (%s): %s.html", loc, base)
		}
	}
}

// page returns the current URL and the document's HTML.
func page(ctx context.Context) (loc, html string, err error) {
	if loc, err = chromedp.Run(ctx, chromedp.Location()); err != nil {
		return "", "", err
	}
	html, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement ? document.documentElement.outerHTML : ""`))
	return loc, html, err
}

// do runs browser actions with a timeout, and fails the test on error.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// run runs one browser action with a timeout and returns its value, failing
// the test on error.
func run[T any](t *testing.T, ctx context.Context, what string, action chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(tctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// pageState is what waitFor looks at: the URL and the visible text.
type pageState struct{ URL, Text string }

// waitFor polls the current page until cond holds. Unlike chromedp.Poll it
// survives navigations, so it can wait through redirects and auto-submitted
// forms.
func waitFor(t *testing.T, ctx context.Context, what string, cond func(pageState) bool) pageState {
	t.Helper()
	deadline := time.Now().Add(flowTimeout)
	var last pageState
	var lastErr error
	for {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := chromedp.Run(tctx, chromedp.Evaluate[pageState](
			`({URL: location.href, Text: document.body ? document.body.innerText : ""})`))
		cancel()
		if err == nil {
			last, lastErr = st, nil
			if cond(st) {
				return st
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %s for %s; last page %s:\n%s\n(last error: %v)", flowTimeout, what, last.URL, tail(last.Text, 1000), lastErr)
		}
		if ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cookies returns the browser's cookies for url, by name.
func cookies(t *testing.T, ctx context.Context, url string) map[string]*network.Cookie {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.Call(tctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		t.Fatalf("reading cookies of %s: %v", url, err)
	}
	m := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		m[c.Name] = c
	}
	return m
}

// sessionCookies returns the session cookie (name) or its chunks (name.0,
// name.1, …).
func sessionCookies(all map[string]*network.Cookie, name string) []*network.Cookie {
	var out []*network.Cookie
	if c, ok := all[name]; ok {
		out = append(out, c)
	}
	for i := 0; ; i++ {
		c, ok := all[name+"."+strconv.Itoa(i)]
		if !ok {
			break
		}
		out = append(out, c)
	}
	return out
}

// hop is one HTTP request of a top-level navigation, as the browser saw it.
type hop struct {
	ID       network.RequestID
	Method   string
	URL      string
	Status   int64
	Location string
	// Sent are the cookies the browser sent; Blocked the ones it held back,
	// with the reasons.
	Sent    []string
	Blocked map[string]string
	// SetCookie is the raw Set-Cookie header of the response.
	SetCookie string
}

func (h hop) String() string {
	s := fmt.Sprintf("%s %s -> %d", h.Method, h.URL, h.Status)
	if h.Location != "" {
		s += " Location: " + h.Location
	}
	if len(h.Sent) > 0 {
		s += " [sent " + strings.Join(h.Sent, ",") + "]"
	}
	if len(h.Blocked) > 0 {
		s += fmt.Sprintf(" [blocked %v]", h.Blocked)
	}
	return s
}

// netRecorder records the document requests of a tab (the navigation chain:
// redirects, form posts), with the cookies sent and the responses.
type netRecorder struct {
	mu        sync.Mutex
	order     []network.RequestID
	reqs      map[network.RequestID][]*hop
	reqExtra  map[network.RequestID][]*network.EventRequestWillBeSentExtraInfo
	respExtra map[network.RequestID][]*network.EventResponseReceivedExtraInfo
}

func recordNetwork(t *testing.T, ctx context.Context) *netRecorder {
	t.Helper()
	r := &netRecorder{
		reqs:      map[network.RequestID][]*hop{},
		reqExtra:  map[network.RequestID][]*network.EventRequestWillBeSentExtraInfo{},
		respExtra: map[network.RequestID][]*network.EventResponseReceivedExtraInfo{},
	}
	err := chromedp.Listen(ctx, func(ev any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if ev.Type != network.ResourceTypeDocument {
				return
			}
			hops := r.reqs[ev.RequestID]
			if n := len(hops); n > 0 && ev.RedirectResponse != nil {
				hops[n-1].Status = ev.RedirectResponse.Status
				hops[n-1].Location = headerValue(ev.RedirectResponse.Headers, "Location")
			}
			h := &hop{ID: ev.RequestID, Method: ev.Request.Method, URL: ev.Request.URL}
			r.reqs[ev.RequestID] = append(hops, h)
			r.order = append(r.order, ev.RequestID)
		case *network.EventResponseReceived:
			if hops := r.reqs[ev.RequestID]; len(hops) > 0 {
				hops[len(hops)-1].Status = ev.Response.Status
			}
		case *network.EventRequestWillBeSentExtraInfo:
			r.reqExtra[ev.RequestID] = append(r.reqExtra[ev.RequestID], ev)
		case *network.EventResponseReceivedExtraInfo:
			r.respExtra[ev.RequestID] = append(r.respExtra[ev.RequestID], ev)
		}
	})
	if err != nil {
		t.Fatalf("listening to network events: %v", err)
	}
	return r
}

// mark returns a position in the log, for since.
func (r *netRecorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

// since returns the document requests made after mark, in order, joined with
// their extra info (the n-th extra-info event of a request id belongs to its
// n-th hop: redirects keep the id).
func (r *netRecorder) since(mark int) []hop {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[network.RequestID]int{}
	for _, id := range r.order[:mark] {
		seen[id]++
	}
	var out []hop
	for _, id := range r.order[mark:] {
		i := seen[id]
		seen[id]++
		h := *r.reqs[id][i]
		if x := r.reqExtra[id]; i < len(x) {
			h.Blocked = map[string]string{}
			for _, ac := range x[i].AssociatedCookies {
				if len(ac.BlockedReasons) == 0 {
					h.Sent = append(h.Sent, ac.Cookie.Name)
				} else {
					reasons := make([]string, len(ac.BlockedReasons))
					for j, br := range ac.BlockedReasons {
						reasons[j] = string(br)
					}
					h.Blocked[ac.Cookie.Name] = strings.Join(reasons, "+")
				}
			}
		}
		if x := r.respExtra[id]; i < len(x) {
			h.SetCookie = headerValue(x[i].Headers, "Set-Cookie")
		}
		out = append(out, h)
	}
	return out
}

func headerValue(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

func formatHops(hops []hop) string {
	var b strings.Builder
	for i, h := range hops {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, h)
	}
	return b.String()
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// goTool returns the go command (go test puts its own on PATH).
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	return p
}

// process is a child process whose output is kept for the test log.
type process struct {
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	err  error
}

// start runs cmd until the test ends; its output is logged if the test fails.
func start(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &p.out
	cmd.Stderr = &p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
			case <-time.After(3 * time.Second):
				_ = cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(cmd.Path), tail(p.out.String(), 4000))
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitOutput waits until the process's output matches re and returns the
// submatches.
func (p *process) waitOutput(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m, nil
		}
		if p.exited() {
			return nil, fmt.Errorf("%s exited (%v) before printing %q", filepath.Base(p.cmd.Path), p.err, re)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s printed no %q within %s", filepath.Base(p.cmd.Path), re, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitListening waits until addr accepts TCP connections, or the process
// exits.
func (p *process) waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited (%v) before listening on %s", filepath.Base(p.cmd.Path), p.err, addr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %v", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cleanEnv returns the environment without the given variables.
func cleanEnv(drop ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			if k == d {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// chromiumLog drops the D-Bus complaints that headless Chromium prints on a
// machine without a session bus.
func chromiumLog(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" && !strings.Contains(l, "dbus") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
