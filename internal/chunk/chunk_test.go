package chunk

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cookies builds request cookies from alternating name, value pairs.
func cookies(kv ...string) []*http.Cookie {
	out := make([]*http.Cookie, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, &http.Cookie{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		cookies []*http.Cookie
		cookie  string
		want    Result
	}{
		{"none", nil, "appSession", Result{}},
		{"unrelated cookies", cookies("other", "x", "appSessionX", "y"), "appSession", Result{}},
		{"unchunked", cookies("a", "1", "appSession", "v"), "appSession",
			Result{Value: "v", Found: true, Names: []string{"appSession"}}},
		{"unchunked empty value", cookies("appSession", ""), "appSession",
			Result{Value: "", Found: true, Names: []string{"appSession"}}},
		{"single chunk", cookies("appSession.0", "abc"), "appSession",
			Result{Value: "abc", Found: true, Names: []string{"appSession.0"}}},
		{"ordered chunks", cookies("appSession.0", "a", "appSession.1", "b", "appSession.2", "c"), "appSession",
			Result{Value: "abc", Found: true, Names: []string{"appSession.0", "appSession.1", "appSession.2"}}},
		{"unordered chunks", cookies("appSession.2", "c", "x", "y", "appSession.0", "a", "appSession.1", "b"), "appSession",
			Result{Value: "abc", Found: true, Names: []string{"appSession.2", "appSession.0", "appSession.1"}}},
		{"numeric not lexical order", chunkCookies("appSession", 12), "appSession",
			Result{Value: chunkValue(12), Found: true, Names: chunkNames("appSession", 12)}},
		{"gap", cookies("appSession.0", "a", "appSession.2", "c"), "appSession",
			Result{Names: []string{"appSession.0", "appSession.2"}}},
		{"missing first", cookies("appSession.1", "b", "appSession.2", "c"), "appSession",
			Result{Names: []string{"appSession.1", "appSession.2"}}},
		{"unchunked wins over chunks", cookies("appSession.0", "a", "appSession", "whole", "appSession.1", "b"), "appSession",
			Result{Value: "whole", Found: true, Names: []string{"appSession.0", "appSession", "appSession.1"}}},
		{"unchunked wins over gapped chunks", cookies("appSession", "whole", "appSession.3", "d", "appSession.01", "z"), "appSession",
			Result{Value: "whole", Found: true, Names: []string{"appSession", "appSession.3", "appSession.01"}}},
		{"duplicate unchunked: first wins", cookies("appSession", "first", "appSession", "second"), "appSession",
			Result{Value: "first", Found: true, Names: []string{"appSession"}}},
		{"duplicate chunk: first wins, never concatenated", cookies("appSession.0", "a", "appSession.0", "EVIL", "appSession.1", "b"), "appSession",
			Result{Value: "ab", Found: true, Names: []string{"appSession.0", "appSession.1"}}},
		{"leading zero index refuses", cookies("appSession.0", "a", "appSession.01", "b"), "appSession",
			Result{Names: []string{"appSession.0", "appSession.01"}}},
		{"double zero index refuses", cookies("appSession.00", "a"), "appSession",
			Result{Names: []string{"appSession.00"}}},
		{"huge index refuses", cookies("appSession.0", "a", "appSession.99999999999999999999", "b"), "appSession",
			Result{Names: []string{"appSession.0", "appSession.99999999999999999999"}}},
		{"index at MaxChunks refuses", append(chunkCookies("appSession", MaxChunks), &http.Cookie{Name: "appSession." + strconv.Itoa(MaxChunks), Value: "z"}), "appSession",
			Result{Names: append(chunkNames("appSession", MaxChunks), "appSession."+strconv.Itoa(MaxChunks))}},
		{"exactly MaxChunks chunks", chunkCookies("appSession", MaxChunks), "appSession",
			Result{Value: chunkValue(MaxChunks), Found: true, Names: chunkNames("appSession", MaxChunks)}},
		{"non-digit suffixes are ignored", cookies("appSession.x", "?", "appSession.-1", "?", "appSession.", "?", "appSession.0", "a", "appSession.1a", "?", "appSession.+1", "?"), "appSession",
			Result{Value: "a", Found: true, Names: []string{"appSession.0"}}},
		{"unicode digits are not digits", cookies("appSession.٠", "?", "appSession.0", "a"), "appSession",
			Result{Value: "a", Found: true, Names: []string{"appSession.0"}}},
		{"dot in the name is literal", cookies("myXsession.0", "evil", "myXsession", "evil"), "my.session", Result{}},
		{"dot in the name matches itself", cookies("myXsession.0", "evil", "my.session.0", "a", "my.session.1", "b"), "my.session",
			Result{Value: "ab", Found: true, Names: []string{"my.session.0", "my.session.1"}}},
		{"regex metacharacters in name", cookies("a+b.0", "x", "aab.0", "y"), "a+b",
			Result{Value: "x", Found: true, Names: []string{"a+b.0"}}},
		{"prefix of another name", cookies("appSessionOther.0", "x", "appSession2", "y"), "appSession", Result{}},
		{"chunk of a longer name is not ours", cookies("appSession.0.1", "x"), "appSession", Result{}},
		{"nil cookies skipped", []*http.Cookie{nil, {Name: "appSession", Value: "v"}}, "appSession",
			Result{Value: "v", Found: true, Names: []string{"appSession"}}},
		{"case sensitive", cookies("APPSESSION", "v", "AppSession.0", "w"), "appSession", Result{}},
		{"over MaxBytes", cookies("appSession.0", strings.Repeat("a", MaxBytes), "appSession.1", "b"), "appSession",
			Result{Names: []string{"appSession.0", "appSession.1"}}},
		{"exactly MaxBytes", cookies("appSession.0", strings.Repeat("a", MaxBytes-1), "appSession.1", "b"), "appSession",
			Result{Value: strings.Repeat("a", MaxBytes-1) + "b", Found: true, Names: []string{"appSession.0", "appSession.1"}}},
		{"unchunked is not size-capped here", cookies("appSession", strings.Repeat("a", MaxBytes+1)), "appSession",
			Result{Value: strings.Repeat("a", MaxBytes+1), Found: true, Names: []string{"appSession"}}},
		{"duplicate non-canonical names listed once", cookies("appSession.01", "a", "appSession.01", "b"), "appSession",
			Result{Names: []string{"appSession.01"}}},
		{"__Host- prefix kept", cookies("__Host-appSession.1", "b", "__Host-appSession.0", "a"), "__Host-appSession",
			Result{Value: "ab", Found: true, Names: []string{"__Host-appSession.1", "__Host-appSession.0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Read(tt.cookies, tt.cookie)
			assert.Equal(t, tt.want, got)
		})
	}
}

func chunkCookies(name string, n int) []*http.Cookie {
	out := make([]*http.Cookie, n)
	for i := range n {
		out[i] = &http.Cookie{Name: ChunkName(name, i), Value: strconv.Itoa(i) + ";"}
	}
	return out
}

func chunkNames(name string, n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = ChunkName(name, i)
	}
	return out
}

func chunkValue(n int) string {
	var sb strings.Builder
	for i := range n {
		sb.WriteString(strconv.Itoa(i) + ";")
	}
	return sb.String()
}

func TestReadCookieBomb(t *testing.T) {
	tests := []struct {
		name  string
		names func(i int) string
		found bool
		count int
	}{
		{"5000 sequential chunks", func(i int) string { return ChunkName("appSession", i) }, false, 5000},
		{"5000 distinct non-canonical chunks", func(i int) string { return "appSession.0" + strconv.Itoa(i) }, false, 5000},
		{"5000 duplicates of chunk 0", func(int) string { return "appSession.0" }, true, 1},
		{"5000 foreign names", func(i int) string { return "appSession.x" + strconv.Itoa(i) }, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := make([]*http.Cookie, 5000)
			for i := range cs {
				cs[i] = &http.Cookie{Name: tt.names(i), Value: strings.Repeat("v", 150)}
			}
			got := Read(cs, "appSession")
			assert.Equal(t, tt.found, got.Found)
			assert.Len(t, got.Names, tt.count)
			assertLinearWork(t, cs)
		})
	}
	// net/http's Request.Cookies returns nothing above 3000 cookies
	// (GODEBUG httpcookiemaxnum), so stay just below that.
	t.Run("from a real 500 KiB Cookie header", func(t *testing.T) {
		var sb strings.Builder
		for i := 0; i < 2900; i++ {
			if i > 0 {
				sb.WriteString("; ")
			}
			sb.WriteString(ChunkName("appSession", i) + "=" + strings.Repeat("A", 160))
		}
		r, err := http.NewRequest(http.MethodGet, "/", nil)
		require.NoError(t, err)
		r.Header.Set("Cookie", sb.String())
		cs := r.Cookies()
		require.Len(t, cs, 2900)
		got := Read(cs, "appSession")
		assert.False(t, got.Found)
		assert.Len(t, got.Names, len(cs))
		assertLinearWork(t, cs)
	})
}

// assertLinearWork bounds what Read costs for cs by allocations and bytes,
// not time: the Names slice and, for non-canonical names, one set entry per
// cookie (about 135 bytes per cookie with growth), never a copy of the
// values (150 bytes each here), and a logarithmic number of allocations
// (slice and map growth).
func assertLinearWork(t *testing.T, cs []*http.Cookie) {
	t.Helper()
	allocs, bytes := allocsPerRun(5, func() { _ = Read(cs, "appSession") })
	t.Logf("%d cookies: %.0f allocs, %.0f bytes", len(cs), allocs, bytes)
	assert.LessOrEqual(t, allocs, 100.0, "allocations")
	assert.LessOrEqual(t, bytes, float64(192*len(cs)+4096), "bytes allocated")
}

// allocsPerRun is testing.AllocsPerRun that also reports the bytes
// allocated per run.
func allocsPerRun(runs int, f func()) (allocs, bytes float64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(runs), float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
}

// TestNameSetStaysLinear: deduplicating thousands of distinct hostile
// chunk names switches from a scanned slice to a map, so each name costs
// one lookup rather than a scan of all earlier names.
func TestNameSetStaysLinear(t *testing.T) {
	var n nameSet
	for i := range 5000 {
		require.True(t, n.add("appSession.0"+strconv.Itoa(i)))
		require.False(t, n.add("appSession.0"+strconv.Itoa(i)))
		require.LessOrEqual(t, len(n.list), 17, "the scanned slice stays short")
	}
	assert.NotNil(t, n.m)
	assert.Len(t, n.m, 5000)
}

func TestReadAllocations(t *testing.T) {
	cs := cookies("a", "1", "appSession", "value", "b", "2")
	allocs := testing.AllocsPerRun(100, func() {
		_ = Read(cs, "appSession")
	})
	assert.LessOrEqual(t, allocs, 1.0)
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		value string
		size  int
		want  []string
	}{
		{"empty", "", 4, []string{""}},
		{"fits", "abc", 4, []string{"abc"}},
		{"exact fit", "abcd", 4, []string{"abcd"}},
		{"one over", "abcde", 4, []string{"abcd", "e"}},
		{"exact multiple", "abcdefgh", 4, []string{"abcd", "efgh"}},
		{"size one", "abc", 1, []string{"a", "b", "c"}},
		{"express default chunk size", strings.Repeat("x", 4012*2+1), 4012,
			[]string{strings.Repeat("x", 4012), strings.Repeat("x", 4012), "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.value, tt.size)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.value, strings.Join(got, ""))
		})
	}
	t.Run("non-positive size panics", func(t *testing.T) {
		assert.Panics(t, func() { Split("abc", 0) })
		assert.Panics(t, func() { Split("abc", -1) })
	})
}

func TestChunkName(t *testing.T) {
	tests := []struct {
		name string
		i    int
		want string
	}{
		{"appSession", 0, "appSession.0"},
		{"appSession", 10, "appSession.10"},
		{"my.session", 3, "my.session.3"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, ChunkName(tt.name, tt.i))
		})
	}
}

func TestSplitReadRoundTrip(t *testing.T) {
	for _, n := range []int{1, 100, 4012, 4013, 16 * 4012} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			value := strings.Repeat("Q", n)
			parts := Split(value, 4012)
			cs := make([]*http.Cookie, len(parts))
			for i, p := range parts {
				// reverse order on purpose
				cs[len(parts)-1-i] = &http.Cookie{Name: ChunkName("appSession", i), Value: p}
			}
			got := Read(cs, "appSession")
			require.True(t, got.Found)
			assert.Equal(t, value, got.Value)
			assert.Len(t, got.Names, len(parts))
		})
	}
}

func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"appSession=v",
		"appSession.0=a; appSession.1=b",
		"appSession.1=b; appSession.0=a",
		"appSession.0=a; appSession.2=c",
		"appSession.0=a; appSession.0=b",
		"appSession.01=a; appSession.x=b; appSession.-1=c",
		"appSession.99999999999999999999=a",
		"appSession=w; appSession.0=a",
		"a=b",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		cs := r.Cookies()
		got := Read(cs, "appSession")
		seen := map[string]bool{}
		for _, n := range got.Names {
			if seen[n] {
				t.Fatalf("duplicate name %q in Names", n)
			}
			seen[n] = true
			if n != "appSession" {
				if _, ok := chunkSuffix(n, "appSession"); !ok {
					t.Fatalf("foreign name %q in Names", n)
				}
			}
		}
		if !got.Found {
			if got.Value != "" {
				t.Fatalf("value without Found")
			}
			return
		}
		// Found: either the first unchunked cookie, or chunks 0..n-1 in order.
		for _, c := range cs {
			if c.Name == "appSession" {
				if got.Value != c.Value {
					t.Fatalf("unchunked cookie did not win")
				}
				return
			}
		}
		if len(got.Value) > MaxBytes || len(got.Names) > MaxChunks {
			t.Fatalf("limits exceeded")
		}
		var sb strings.Builder
		for i := range len(got.Names) {
			want := ChunkName("appSession", i)
			for _, c := range cs {
				if c.Name == want {
					sb.WriteString(c.Value)
					break
				}
			}
		}
		if sb.String() != got.Value {
			t.Fatalf("reassembly mismatch: %q vs %q", sb.String(), got.Value)
		}
	})
}

func BenchmarkRead(b *testing.B) {
	tests := []struct {
		name    string
		cookies []*http.Cookie
	}{
		{"unchunked", cookies("_ga", "GA1.1.1", "appSession", strings.Repeat("v", 3000), "theme", "dark")},
		{"3 chunks", append(cookies("_ga", "GA1.1.1"), chunkCookies3()...)},
		{"absent", cookies("_ga", "GA1.1.1", "theme", "dark")},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Read(tt.cookies, "appSession")
			}
		})
	}
}

func chunkCookies3() []*http.Cookie {
	parts := Split(strings.Repeat("v", 11000), 4012)
	out := make([]*http.Cookie, len(parts))
	for i, p := range parts {
		out[i] = &http.Cookie{Name: ChunkName("appSession", i), Value: p}
	}
	return out
}
