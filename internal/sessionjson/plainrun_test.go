package sessionjson

import (
	"strings"
	"testing"
)

// plainRunNaive is plainRun one byte at a time.
func plainRunNaive(b []byte, ascii bool) int {
	for i, c := range b {
		if c < 0x20 || c == '"' || c == '\\' || (ascii && c >= 0x80) {
			return i
		}
	}
	return len(b)
}

func checkPlainRun(t *testing.T, b []byte) {
	t.Helper()
	for _, ascii := range []bool{false, true} {
		if got, want := plainRun(b, ascii), plainRunNaive(b, ascii); got != want {
			t.Fatalf("plainRun(%q, %v) = %d, want %d", b, ascii, got, want)
		}
	}
}

func TestPlainRun(t *testing.T) {
	long := strings.Repeat("abcdefgh", 5)
	for _, s := range []string{"", "a", long} {
		checkPlainRun(t, []byte(s))
	}
	// Every special byte, and its neighbours, at every position of a word
	// and past the words.
	for _, c := range []byte{0x00, 0x1f, 0x20, 0x21, '"', '#', '[', '\\', ']', 0x7f, 0x80, 0xff} {
		for i := range len(long) {
			b := []byte(long)
			b[i] = c
			checkPlainRun(t, b)
		}
	}
}

func FuzzPlainRun(f *testing.F) {
	f.Add([]byte(`abcdefgh"ijk`))
	f.Add([]byte("abcdefghij\\k\x01\x80"))
	f.Fuzz(checkPlainRun)
}
