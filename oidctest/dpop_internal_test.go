package oidctest

import (
	"fmt"
	"testing"
	"time"
)

func TestNormalizeHTU(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "https://server.example.com/token", want: "https://server.example.com/token"},
		{in: "HTTPS://Server.EXAMPLE.com:443/token", want: "https://server.example.com/token"},
		{in: "http://server.example.com:80", want: "http://server.example.com/"},
		{in: "http://server.example.com:8080/a/./b/../c", want: "http://server.example.com:8080/a/c"},
		{in: "https://s.example/%7euser/%2f%41", want: "https://s.example/~user/%2FA"},
		{in: "https://s.example/p?q=1#f", want: "https://s.example/p"},
		{in: "http://[::1]:80/x", want: "http://[::1]/x"},
		{in: "http://[::1]:8080/x", want: "http://[::1]:8080/x"},
		{in: "https://s.example:/x", want: "https://s.example/x"},
		{in: "/token", bad: true},
		{in: "ftp://s.example/x", bad: true},
		{in: "https://user:pw@s.example/x", bad: true},
		{in: "urn:example:x", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := normalizeHTU(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("normalizeHTU(%q) = %q, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("normalizeHTU(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestReplayCacheBounds(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		expired int // entries already past their window
		live    int
	}{
		{"prunes expired entries first", dpopReplayCacheSize, 0},
		{"evicts the oldest when all are live", 0, dpopReplayCacheSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDPoPState()
			for i := range tt.expired {
				d.seen[fmt.Sprint("old", i)] = now.Add(-time.Second)
			}
			for i := range tt.live {
				d.seen[fmt.Sprint("live", i)] = now.Add(time.Duration(i+1) * time.Second)
			}
			if !d.remember("new", now.Add(time.Hour), now) {
				t.Fatal("a new jti was taken for a replay")
			}
			if len(d.seen) > dpopReplayCacheSize {
				t.Fatalf("cache holds %d entries, more than %d", len(d.seen), dpopReplayCacheSize)
			}
			if d.remember("new", now.Add(time.Hour), now) {
				t.Fatal("a replay was accepted")
			}
			if tt.live > 0 {
				if _, ok := d.seen["live0"]; ok {
					t.Fatal("the oldest entry was kept")
				}
				if _, ok := d.seen["live1"]; !ok {
					t.Fatal("a newer entry was evicted")
				}
			}
		})
	}
}
