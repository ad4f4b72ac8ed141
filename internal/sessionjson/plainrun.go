package sessionjson

import (
	"bytes"
	"encoding/binary"
)

// Masks for plainRun's word-at-a-time test: every byte of the word set to
// one value.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	spaces = 0x20 * ones
)

// plainRun returns the length of the run at the start of b of bytes that
// need no attention inside a JSON string: not '"', not '\' and not a
// control character, and, with ascii, below 0x80. Tokens, the bulk of a
// session, are long runs of such bytes: the quote and the backslash are
// found with bytes.IndexByte, and the bytes before them are tested eight
// at a time.
func plainRun(b []byte, ascii bool) int {
	n := len(b)
	if q := bytes.IndexByte(b, '"'); q >= 0 {
		n = q
	}
	if s := bytes.IndexByte(b[:n], '\\'); s >= 0 {
		n = s
	}
	i := 0
	for ; i+8 <= n; i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		// A byte below 0x20 sets its high bit in (x-spaces)&^x (bytes at or
		// above 0x80 are masked out by ^x, and are caught by x itself when
		// ascii).
		t := (x - spaces) &^ x
		if ascii {
			t |= x
		}
		if t&highs != 0 {
			break
		}
	}
	for ; i < n; i++ {
		if c := b[i]; c < 0x20 || (ascii && c >= 0x80) {
			return i
		}
	}
	return n
}
