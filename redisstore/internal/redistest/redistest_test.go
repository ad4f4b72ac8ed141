package redistest

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

// recorder is a testing.TB that records how a test ended.
type recorder struct {
	testing.TB
	ended string // "fatal", "skip" or ""
	msg   string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.ended, r.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.ended, r.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestBinaryMissing(t *testing.T) {
	tests := []struct {
		ci   string
		want string
	}{
		{"true", "fatal"},
		{"", "skip"},
		{"false", "skip"},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Binary(r, "redis-server")
			}()
			<-done
			assert.Equal(t, tt.want, r.ended)
			assert.Contains(t, r.msg, "redis-server not found on PATH")
		})
	}
}

func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	_, err := s.Do("SET", "k", "v")
	assert.NoError(t, err)
	s.Stop()
	_, err = s.Do("PING")
	assert.Error(t, err)
	s.Restart()
	v, err := s.Do("GET", "k")
	assert.NoError(t, err)
	assert.Equal(t, "v", v, "SHUTDOWN SAVE keeps the data across Stop and Restart")
	_, err = s.Do("SET", "k2", "v")
	assert.NoError(t, err)
	s.Kill()
	s.Restart()
	v, err = s.Do("EXISTS", "k2")
	assert.NoError(t, err)
	assert.Equal(t, "0", v, "Kill loses writes since the last save")
}
