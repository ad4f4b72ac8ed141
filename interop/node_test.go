package interop

import (
	"bufio"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Node processes (node-oidc-provider, express-openid-connect) are
// started at most once per test binary, on first use, and stopped by
// TestMain.
var (
	procsMu sync.Mutex
	procs   []*nodeProc
)

func TestMain(m *testing.M) {
	code := m.Run()
	procsMu.Lock()
	for _, p := range procs {
		p.stop()
	}
	for i := len(exitFuncs) - 1; i >= 0; i-- {
		exitFuncs[i]()
	}
	procsMu.Unlock()
	os.Exit(code)
}

// nodeMissing explains why the Node side cannot run, or returns "".
func nodeMissing() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not installed"
	}
	for _, pkg := range []string{"oidc-provider", "express-openid-connect", "express"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			return "interop/node_modules is missing (run: cd interop && npm ci)"
		}
	}
	return ""
}

// needNode skips t when Node or the npm dependencies are missing, or fails it
// in CI (CI=true), where everything must run.
func needNode(t testing.TB) {
	t.Helper()
	reason := nodeMissing()
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("interop: %s; CI=true requires the Node interop tests to run", reason)
	}
	t.Skip("interop: " + reason)
}

// nodeProc is a running Node script.
type nodeProc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	logs  *syncBuffer
	done  chan struct{}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startNode runs `node script args...` and returns it with the first line it
// prints on stdout (its URL or URLs). The process gets the test binary's
// environment without NODE_ENV (oidc-provider needs development mode), plus
// env; it exits when the test binary does (its stdin closes).
func startNode(name, script string, env []string, args ...string) (*nodeProc, string, error) {
	cmd := exec.Command("node", append([]string{script}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NODE_ENV=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	p := &nodeProc{name: name, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.logs
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", script, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	procsMu.Lock()
	procs = append(procs, p)
	procsMu.Unlock()

	first := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		first <- strings.TrimSpace(line)
		_, _ = io.Copy(p.logs, r)
	}()
	select {
	case line := <-first:
		if line == "" {
			return nil, "", fmt.Errorf("%s exited before printing its URL:\n%s", script, p.logs)
		}
		return p, line, nil
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, "", fmt.Errorf("%s did not print its URL within 60s:\n%s", script, p.logs)
	}
}

func (p *nodeProc) stop() {
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// dumpLogsOnFailure prints the process's stderr when t fails.
func (p *nodeProc) dumpLogsOnFailure(t testing.TB) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.logs)
		}
	})
}

// testCertFile writes the certificate that every httptest TLS server
// presents, for NODE_EXTRA_CA_CERTS, and returns its path.
func testCertFile(dir string) (string, error) {
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	path := filepath.Join(dir, "httptest-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return path, os.WriteFile(path, data, 0o600)
}
