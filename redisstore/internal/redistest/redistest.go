// Package redistest starts real redis-server processes for tests: a
// standalone server on 127.0.0.1 at a free port, which can be stopped,
// killed, paused and restarted on the same port, and a small Cluster.
//
// When redis-server is not on PATH, a test that asks for a server is
// skipped, or fails when the environment variable CI is "true", so that CI
// never silently skips the Redis tests.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Binary returns the path of the named executable (redis-server or
// redis-cli). If it is missing it fails the test when CI=true and skips it
// otherwise.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found on PATH; CI must install it (apt-get install redis-server): %v", name, err)
	}
	t.Skipf("%s not found on PATH; install redis-server to run the Redis tests", name)
	return ""
}

// Server is one redis-server process. Its methods are safe for concurrent
// use.
type Server struct {
	t    testing.TB
	bin  string
	args []string
	port int
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
	log  *syncBuffer
}

// Start starts a standalone redis-server on 127.0.0.1 at a free port, with
// persistence off, and stops it when the test ends. extra arguments are
// appended to the command line.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := Binary(t, "redis-server")
	var lastErr error
	for range 5 {
		s := &Server{t: t, bin: bin, port: freePort(t, false), dir: t.TempDir()}
		s.args = append([]string{
			"--port", strconv.Itoa(s.port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", s.dir,
		}, extra...)
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port returns the server's port.
func (s *Server) Port() int { return s.port }

// Restart starts the server again on the same port, after Stop or Kill. It
// fails the test if the server does not come up.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restarting redis-server on %s: %v", s.Addr(), err)
	}
}

// Stop shuts the server down gracefully with SHUTDOWN SAVE, so that a
// Restart loads the same data, as after a planned Redis restart. It waits
// for the process to exit.
func (s *Server) Stop() {
	s.t.Helper()
	if _, err := s.Do("SHUTDOWN", "SAVE"); err != nil && !isEOF(err) {
		s.t.Fatalf("redistest: SHUTDOWN: %v", err)
	}
	s.wait()
}

// Kill ends the server with SIGKILL and waits for it to exit; writes since
// the last Stop are lost, as in a crash. Killing a stopped server does
// nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exit := s.cmd, s.exit
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exit:
	default:
		_ = cmd.Process.Kill()
	}
	s.wait()
}

// Pause freezes the server with SIGSTOP: connections stay open but nothing
// is answered, as when Redis hangs. Resume undoes it. A paused server is
// resumed when the test ends, before it is killed.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP)
	s.t.Cleanup(s.Resume)
}

// Resume continues a paused server.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// Log returns what the server has written so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// Do sends one command over a new connection and returns the first line of
// the reply (without its type byte for simple strings and errors). It is
// meant for test set-up, not as a client.
func (s *Server) Do(args ...string) (string, error) {
	return do(s.Addr(), args...)
}

func (s *Server) start() error {
	s.mu.Lock()
	s.log = &syncBuffer{}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return err
	}
	exit := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exit)
	}()
	s.cmd, s.exit = cmd, exit
	log := s.log
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exit:
			return fmt.Errorf("redis-server exited during start-up:\n%s", log.String())
		default:
		}
		if r, err := s.Do("PING"); err == nil && r == "PONG" {
			return nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("redis-server did not answer PING within %v:\n%s", startTimeout, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait waits for the process to exit.
func (s *Server) wait() {
	s.mu.Lock()
	exit := s.exit
	s.mu.Unlock()
	if exit == nil {
		return
	}
	select {
	case <-exit:
	case <-time.After(startTimeout):
		s.t.Errorf("redistest: redis-server on %s did not exit", s.Addr())
	}
}

// Cluster is a Redis Cluster of primaries without replicas.
type Cluster struct {
	// Nodes are the cluster's servers.
	Nodes []*Server
}

// Addrs returns the host:port of every node.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// StartCluster starts n redis-server processes in cluster mode on 127.0.0.1,
// joins them with redis-cli --cluster create, and waits until the cluster
// state is ok. It needs n >= 3.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	cli := Binary(t, "redis-cli")
	bin := Binary(t, "redis-server")
	c := &Cluster{}
	for range n {
		var (
			s   *Server
			err error
		)
		for range 5 {
			// The cluster bus listens on port+10000.
			s = &Server{t: t, bin: bin, port: freePort(t, true), dir: t.TempDir()}
			s.args = []string{
				"--port", strconv.Itoa(s.port),
				"--bind", "127.0.0.1",
				"--save", "",
				"--appendonly", "no",
				"--dir", s.dir,
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "2000",
			}
			if err = s.start(); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("redistest: starting cluster node: %v", err)
		}
		t.Cleanup(s.Kill)
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, s := range c.Nodes {
		for {
			info, err := s.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster not ok within %v: %q %v", startTimeout, info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// freePort returns a port on 127.0.0.1 that was free a moment ago. With bus,
// port+10000 is free too.
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redistest: finding a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !bus {
			_ = l.Close()
			return port
		}
		if port+10000 <= 65535 {
			if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
				_ = l2.Close()
				_ = l.Close()
				return port
			}
		}
		_ = l.Close()
	}
	t.Fatal("redistest: no free port pair for a cluster node")
	return 0
}

// do sends one RESP command and reads one reply. Bulk replies are returned
// whole; other replies as their first line without the type byte.
func do(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return line[1:], nil
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
