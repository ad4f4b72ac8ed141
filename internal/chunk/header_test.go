package chunk

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// viaNetHTTP is what ReadHeader must equal: net/http's parse, then Read.
func viaNetHTTP(lines []string, name string) Result {
	r := &http.Request{Header: http.Header{"Cookie": lines}}
	return Read(r.Cookies(), name)
}

func TestReadHeaderMatchesNetHTTP(t *testing.T) {
	tests := map[string][]string{
		"none":              nil,
		"empty":             {""},
		"unchunked":         {"a=1; appSession=v; b=2"},
		"chunks":            {"appSession.1=b; x=y; appSession.0=a"},
		"two lines":         {"appSession.0=a", "appSession.1=b"},
		"unchunked wins":    {"appSession.0=a; appSession=v"},
		"duplicates":        {"appSession.0=a; appSession.0=z; appSession.1=b"},
		"gap":               {"appSession.0=a; appSession.2=c"},
		"non-canonical":     {"appSession.00=a; appSession.0=a"},
		"huge index":        {"appSession.0=a; appSession.99999999999999999999=b"},
		"foreign suffixes":  {"appSession.x=1; appSession.=2; appSession.-1=3; appSessionX=4; appSession.0=a"},
		"quoted":            {`appSession="abc"`},
		"lone quote":        {`appSession="`},
		"invalid byte":      {`appSession=a\b; appSession.0=ok`},
		"invalid chunk":     {`appSession.0=a"b; appSession.1=c`},
		"spaces and tabs":   {" \tappSession.0 = a ;\t appSession.1=b \r"},
		"no equals":         {"appSession; appSession.0"},
		"leading space val": {"appSession= v"},
		"only separators":   {";;; ;"},
		"dotted name part":  {"appSession.0.1=a; appSession.0=b"},
	}
	for name, lines := range tests {
		t.Run(name, func(t *testing.T) {
			want := viaNetHTTP(lines, "appSession")
			got, ok := ReadHeader(lines, "appSession")
			require.True(t, ok)
			assert.Equal(t, want, got)
			res, joined, ok := ReadHeaderTo(lines, "appSession", make([]byte, 3, 8))
			require.True(t, ok)
			if joined != nil {
				assert.Empty(t, res.Value)
				res.Value = string(joined)
			}
			assert.Equal(t, want, res, "ReadHeaderTo")
		})
	}
	t.Run("dotted session name", func(t *testing.T) {
		lines := []string{"my.s.0=a; my.s.1=b; my.0=x"}
		got, ok := ReadHeader(lines, "my.s")
		require.True(t, ok)
		assert.Equal(t, viaNetHTTP(lines, "my.s"), got)
	})
}

func TestReadHeaderCookieLimit(t *testing.T) {
	lines := []string{"appSession=v" + strings.Repeat(";x=1", maxHeaderCookies-1)}
	got, ok := ReadHeader(lines, "appSession")
	require.True(t, ok, "at the limit")
	assert.Equal(t, viaNetHTTP(lines, "appSession"), got)
	lines[0] += ";y=2"
	_, ok = ReadHeader(lines, "appSession")
	assert.False(t, ok, "over the limit the caller asks net/http")
	assert.False(t, viaNetHTTP(lines, "appSession").Found)
}

func FuzzReadHeader(f *testing.F) {
	f.Add("appSession.0=a; appSession.1=b", "x=1")
	f.Add(`appSession="v"`, "appSession.0=\"")
	f.Add(" appSession .3=c\t", "appSession.00=q;appSession=")
	f.Fuzz(func(t *testing.T, a, b string) {
		lines := []string{a, b}
		got, ok := ReadHeader(lines, "appSession")
		if !ok {
			return
		}
		want := viaNetHTTP(lines, "appSession")
		if got.Found != want.Found || got.Value != want.Value || strings.Join(got.Names, ",") != strings.Join(want.Names, ",") {
			t.Fatalf("ReadHeader(%q) = %+v, net/http + Read = %+v", lines, got, want)
		}
	})
}

// BenchmarkReadHeader reads a 3-chunk session (~12 KB) from a Cookie header
// with a few other cookies.
func BenchmarkReadHeader(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("_ga=GA1.1.123; theme=dark")
	for _, c := range chunkCookies3() {
		sb.WriteString("; " + c.Name + "=" + c.Value)
	}
	lines := []string{sb.String()}
	b.ReportAllocs()
	for range b.N {
		if res, _ := ReadHeader(lines, "appSession"); !res.Found {
			b.Fatal("not found")
		}
	}
}

func TestValidValue(t *testing.T) {
	for b := 0; b < 256; b++ {
		want := b >= 0x20 && b < 0x7f && b != '"' && b != ';' && b != '\\'
		for _, pos := range []int{0, 3, 7, 8, 13, 16} {
			v := []byte(strings.Repeat("aZ09-_.x", 3))
			v[pos] = byte(b)
			assert.Equal(t, want, validValue(string(v)), "byte %#x at %d", b, pos)
		}
	}
}
