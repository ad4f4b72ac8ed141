package oidc

// Tests for the alexedwards/scs adapter (scsstore.go). The fakes below behave
// like scs's memstore: Find reports found=false for expired tokens.

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSCS implements only SCSStore (scs.Store).
type fakeSCS struct {
	mu    sync.Mutex
	data  map[string]fakeSCSItem
	calls []string
	err   error // returned by every method when set
}

type fakeSCSItem struct {
	b      []byte
	expiry time.Time
}

func newFakeSCS() *fakeSCS { return &fakeSCS{data: make(map[string]fakeSCSItem)} }

func (f *fakeSCS) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.err
}

func (f *fakeSCS) find(token string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it, ok := f.data[token]
	if !ok || !time.Now().Before(it.expiry) {
		return nil, false, nil
	}
	return it.b, true, nil
}

func (f *fakeSCS) put(token string, b []byte, expiry time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data[token] = fakeSCSItem{b: b, expiry: expiry}
}

func (f *fakeSCS) Find(token string) ([]byte, bool, error) {
	if err := f.record("Find"); err != nil {
		return nil, false, err
	}
	return f.find(token)
}

func (f *fakeSCS) Commit(token string, b []byte, expiry time.Time) error {
	if err := f.record("Commit"); err != nil {
		return err
	}
	f.put(token, b, expiry)
	return nil
}

func (f *fakeSCS) Delete(token string) error {
	if err := f.record("Delete"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.data, token)
	return nil
}

// fakeSCSCtx implements SCSCtxStore (scs.CtxStore). Its context methods
// check that the caller's context arrives.
type fakeSCSCtx struct{ *fakeSCS }

type scsTestCtxKey struct{}

func (f fakeSCSCtx) checkCtx(ctx context.Context, call string) error {
	if ctx.Value(scsTestCtxKey{}) != "caller" {
		return errors.New(call + ": caller's context not passed through")
	}
	return f.record(call)
}

func (f fakeSCSCtx) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if err := f.checkCtx(ctx, "FindCtx"); err != nil {
		return nil, false, err
	}
	return f.find(token)
}

func (f fakeSCSCtx) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if err := f.checkCtx(ctx, "CommitCtx"); err != nil {
		return err
	}
	f.put(token, b, expiry)
	return nil
}

func (f fakeSCSCtx) DeleteCtx(ctx context.Context, token string) error {
	if err := f.checkCtx(ctx, "DeleteCtx"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.data, token)
	return nil
}

var (
	_ SCSStore    = (*fakeSCS)(nil)
	_ SCSCtxStore = fakeSCSCtx{}
)

func TestFromSCS(t *testing.T) {
	ctx := context.WithValue(context.Background(), scsTestCtxKey{}, "caller")

	// scsBackends are the two kinds of scs store FromSCS must support.
	scsBackends := []struct {
		name string
		new  func() (SCSStore, *fakeSCS)
		// get, set and del are the backend methods FromSCS must call.
		get, set, del string
	}{
		{"Store", func() (SCSStore, *fakeSCS) { f := newFakeSCS(); return f, f },
			"Find", "Commit", "Delete"},
		{"CtxStore", func() (SCSStore, *fakeSCS) { f := newFakeSCS(); return fakeSCSCtx{f}, f },
			"FindCtx", "CommitCtx", "DeleteCtx"},
	}

	tests := []struct {
		name string
		run  func(t *testing.T, s Store, f *fakeSCS, get, set, del string)
	}{
		{"round trip", func(t *testing.T, s Store, f *fakeSCS, get, set, _ string) {
			now := time.Now()
			exp := now.Add(time.Hour)
			in := testStoreEntry(now, exp)
			require.NoError(t, s.Set(ctx, "abc", in, exp))
			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			assert.Equal(t, string(testStoreEntry(now, exp)), string(got))
			assert.Equal(t, []string{set, get}, f.calls)
		}},
		{"stored value is the bytes, expiring at expiry", func(t *testing.T, s Store, f *fakeSCS, _, _, _ string) {
			now := time.Unix(1700000000, 0)
			exp := time.Now().Add(time.Hour)
			in := testStoreEntry(now, now.Add(time.Hour))
			require.NoError(t, s.Set(ctx, "abc", in, exp))
			it := f.data["abc"]
			assert.Equal(t, `{"header":{"iat":1700000000,"uat":1700000000,"exp":1700003600},`+
				`"data":{"id_token":"eyJ.x.y","state":{"returnTo":"/"}},"cookie":{"expires":1700003600000,"maxAge":3600000}}`, string(it.b))
			assert.True(t, it.expiry.Equal(exp))
		}},
		{"missing entry is nil without error", func(t *testing.T, s Store, f *fakeSCS, get, _, _ string) {
			got, err := s.Get(ctx, "nope")
			assert.NoError(t, err)
			assert.Nil(t, got)
			assert.Equal(t, []string{get}, f.calls)
		}},
		{"expired entry is nil without error", func(t *testing.T, s Store, f *fakeSCS, _, _, _ string) {
			f.put("abc", []byte(`{"id":"abc"}`), time.Now().Add(-time.Second))
			got, err := s.Get(ctx, "abc")
			assert.NoError(t, err)
			assert.Nil(t, got)
		}},
		{"Set with a past expiry deletes", func(t *testing.T, s Store, f *fakeSCS, _, set, del string) {
			exp := time.Now().Add(time.Hour)
			require.NoError(t, s.Set(ctx, "abc", marker, exp))
			require.NoError(t, s.Set(ctx, "abc", marker, time.Now().Add(-time.Second)))
			assert.Equal(t, []string{set, del}, f.calls)
			assert.NotContains(t, f.data, "abc")
		}},
		{"Destroy is idempotent", func(t *testing.T, s Store, f *fakeSCS, _, _, del string) {
			require.NoError(t, s.Set(ctx, "abc", marker, time.Now().Add(time.Hour)))
			require.NoError(t, s.Destroy(ctx, "abc"))
			require.NoError(t, s.Destroy(ctx, "abc"))
			assert.NotContains(t, f.data, "abc")
			assert.Equal(t, del, f.calls[len(f.calls)-1])
		}},
		{"entry stored under another id passes through and is refused by the middleware", func(t *testing.T, s Store, f *fakeSCS, _, _, _ string) {
			f.put("abc", []byte(`{"header":{"iat":1,"uat":1,"exp":2},"id":"xyz"}`), time.Now().Add(time.Hour))
			got, err := getEntry(ctx, s, "abc")
			assert.ErrorIs(t, err, ErrStoreEntryMismatch)
			assert.ErrorIs(t, err, ErrStoreUnavailable)
			assert.Nil(t, got)
		}},
		{"entry without an id, as express writes them, is read", func(t *testing.T, s Store, f *fakeSCS, _, _, _ string) {
			f.put("abc", []byte(`{"header":{"iat":1,"uat":1,"exp":2}}`), time.Now().Add(time.Hour))
			got, err := getEntry(ctx, s, "abc")
			require.NoError(t, err)
			assert.Equal(t, &storeEntry{Header: storeHeader{IAT: 1, UAT: 1, EXP: 2}}, got)
		}},
		{"undecodable entry is an error, not a missing one", func(t *testing.T, s Store, f *fakeSCS, _, _, _ string) {
			f.put("abc", []byte(`OK`), time.Now().Add(time.Hour))
			got, err := getEntry(ctx, s, "abc")
			assert.ErrorIs(t, err, ErrStoreUnavailable)
			assert.Nil(t, got)
		}},
		{"backend errors are returned wrapped", func(t *testing.T, s Store, f *fakeSCS, _, _, _ string) {
			boom := errors.New("connection refused")
			f.err = boom
			got, err := s.Get(ctx, "abc")
			assert.ErrorIs(t, err, boom)
			assert.Nil(t, got)
			assert.ErrorIs(t, s.Set(ctx, "abc", marker, time.Now().Add(time.Hour)), boom)
			assert.ErrorIs(t, s.Destroy(ctx, "abc"), boom)
			// A past expiry turns Set into a delete, whose error is returned too.
			assert.ErrorIs(t, s.Set(ctx, "abc", marker, time.Time{}), boom)
		}},
		{"invalid calls do not reach the backend", func(t *testing.T, s Store, f *fakeSCS, _, _, _ string) {
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			exp := time.Now().Add(time.Hour)
			_, err := s.Get(ctx, "")
			assert.ErrorIs(t, err, errEmptyStoreID)
			assert.ErrorIs(t, s.Set(ctx, "", marker, exp), errEmptyStoreID)
			assert.ErrorIs(t, s.Destroy(ctx, ""), errEmptyStoreID)
			_, err = s.Get(canceled, "abc")
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorIs(t, s.Set(canceled, "abc", marker, exp), context.Canceled)
			assert.ErrorIs(t, s.Destroy(canceled, "abc"), context.Canceled)
			assert.Empty(t, f.calls)
		}},
	}
	for _, b := range scsBackends {
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				backend, f := b.new()
				tt.run(t, FromSCS(backend), f, b.get, b.set, b.del)
			})
		}
	}
}

func TestFromSCSNil(t *testing.T) {
	assert.PanicsWithValue(t, "oidc: FromSCS: nil store", func() { FromSCS(nil) })
}

// TestFromSCSEntries checks that entries pass through an scs store byte for
// byte, and decode as they were written, including an absent data or cookie
// member.
func TestFromSCSEntries(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	tests := []struct {
		name  string
		entry storeEntry
	}{
		{"session", storeEntry{
			Header: storeHeader{IAT: 1, UAT: 2, EXP: 3},
			Data:   json.RawMessage(`{"a":[1,2,{"b":null}]}`),
			Cookie: &storeCookie{Expires: 3000, MaxAge: 1000},
		}},
		{"back-channel marker", storeEntry{Cookie: &storeCookie{Expires: 3000, MaxAge: 1000}, LoggedOutAt: 4}},
		{"empty", storeEntry{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := FromSCS(newFakeSCS())
			ctx := context.Background()
			in := encodeEntry("k", tt.entry)
			require.NoError(t, s.Set(ctx, "k", in, exp))
			got, err := s.Get(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, string(in), string(got))
			e, err := getEntry(ctx, s, "k")
			require.NoError(t, err)
			want := tt.entry
			want.ID = "k"
			assert.Equal(t, &want, e)
		})
	}
}
