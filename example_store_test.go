package oidc_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

// With Session.Store the session lives on the server and the cookie carries
// only a signed session id. A MemoryStore suits one instance (and tests);
// several instances share a store such as redisstore.
func ExampleNewMemoryStore() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	store := oidc.NewMemoryStore()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: op.URL(),
		BaseURL:       "http://" + app.Listener.Addr().String(),
		ClientID:      op.ClientID(),
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		Session:       oidc.SessionConfig{Store: store},
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler = auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", oidc.FromRequest(r).User().String("sub"))
	}))
	app.Start()

	b := oidctest.NewBrowser(nil)
	resp, err := b.Login(app.URL+"/", "alice")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	fmt.Println("sessions in the store:", store.Len())
	for _, c := range b.Cookies(app.URL + "/") {
		if c.Name == "appSession" {
			// A signed id, some 80 bytes, instead of the encrypted tokens.
			fmt.Println("the cookie is short:", len(c.Value) < 100)
		}
	}
	// Output:
	// hello alice
	// sessions in the store: 1
	// the cookie is short: true
}

// mapStore is a Store of its own: bytes under ids until an expiry. A store
// for another database has the same three methods.
type mapStore struct {
	mu      sync.Mutex
	entries map[string]mapEntry
}

type mapEntry struct {
	data   []byte
	expiry time.Time
}

func (s *mapStore) Get(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok || !time.Now().Before(e.expiry) {
		return nil, nil // missing or expired: no error
	}
	return e.data, nil
}

func (s *mapStore) Set(_ context.Context, id string, data []byte, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[id] = mapEntry{data: data, expiry: expiry}
	return nil
}

func (s *mapStore) Destroy(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, id)
	return nil
}

// A Store keeps bytes under ids, like an alexedwards/scs store. The bytes
// are express-openid-connect's store JSON; the store never needs to look
// inside them.
func ExampleStore() {
	store := &mapStore{entries: map[string]mapEntry{}}

	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: op.URL(),
		BaseURL:       "http://" + app.Listener.Addr().String(),
		ClientID:      op.ClientID(),
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		Session:       oidc.SessionConfig{Store: store},
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler = auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", oidc.FromRequest(r).User().String("sub"))
	}))
	app.Start()

	resp, err := oidctest.NewBrowser(nil).Login(app.URL+"/", "alice")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	store.mu.Lock()
	for _, e := range store.entries {
		fmt.Println("an entry:", string(e.data[:10]))
	}
	store.mu.Unlock()
	// Output:
	// hello alice
	// an entry: {"header":
}

// BackchannelLogoutConfig mounts POST /backchannel-logout, where the
// provider sends a logout token when a user logs out there. The user's
// sessions from before the logout end at their next request, even cookie
// sessions: the store keeps a marker, not the sessions.
func ExampleBackchannelLogoutConfig() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	baseURL := "http://" + app.Listener.Addr().String()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL:     op.URL(),
		BaseURL:           baseURL,
		ClientID:          op.ClientID(),
		Secret:            oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthRequired:      oidc.Bool(false),
		BackchannelLogout: &oidc.BackchannelLogoutConfig{Store: oidc.NewMemoryStore()},
		LookupEnv:         func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler = auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := oidc.FromRequest(r); c.IsAuthenticated() {
			fmt.Fprintf(w, "logged in as %s", c.User().String("sub"))
			return
		}
		fmt.Fprint(w, "anonymous")
	}))
	app.Start()

	b := oidctest.NewBrowser(nil)
	show := func(resp *http.Response, err error) {
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
	}
	show(b.Login(baseURL+"/login", "alice"))

	// The provider logs alice out of all her sessions (by sub; a sid would
	// end one session).
	resp, err := op.SendBackchannelLogout(context.Background(), baseURL+"/backchannel-logout", "alice", "")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("back-channel logout:", resp.StatusCode)
	show(b.Get(baseURL + "/"))
	// Output:
	// logged in as alice
	// back-channel logout: 200
	// anonymous
}
