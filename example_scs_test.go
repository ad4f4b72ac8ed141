package oidc_test

import (
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

// mapSCS stands in for any github.com/alexedwards/scs/v2 store, such as
// memstore, redisstore, pgxstore or mysqlstore: it has scs.Store's methods.
type mapSCS struct {
	mu    sync.Mutex
	items map[string]scsItem
}

type scsItem struct {
	data   []byte
	expiry time.Time
}

func (s *mapSCS) Find(token string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[token]
	if !ok || time.Now().After(it.expiry) {
		return nil, false, nil
	}
	return it.data, true, nil
}

func (s *mapSCS) Commit(token string, b []byte, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[token] = scsItem{data: b, expiry: expiry}
	return nil
}

func (s *mapSCS) Delete(token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, token)
	return nil
}

// FromSCS keeps the sessions in any scs store (here a map standing in for
// one). With a real backend, pass it directly, for example
// oidc.FromSCS(memstore.New()) or oidc.FromSCS(pgxstore.New(pool)).
func ExampleFromSCS() {
	scsStore := &mapSCS{items: map[string]scsItem{}}

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
		Session:       oidc.SessionConfig{Store: oidc.FromSCS(scsStore)},
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
	scsStore.mu.Lock()
	fmt.Println("entries in the scs store:", len(scsStore.items))
	scsStore.mu.Unlock()
	// Output:
	// hello alice
	// entries in the scs store: 1
}
