// Command bare serves a bare net/http hello handler, the baseline of
// bench/load.sh.
package main

import (
	"log"
	"net/http"
	"os"
)

func main() {
	addr := ":" + os.Getenv("PORT")
	log.Fatal(http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<p>hello dev-user</p><p><a href=\"/logout\">Log out</a></p>"))
	})))
}
