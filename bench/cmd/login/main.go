// Command login logs in to an application running against the development
// provider in auto-login mode (DEV_PROVIDER_AUTOLOGIN=true) and prints the
// resulting Cookie header, for load tests.
//
//	go run ./bench/cmd/login http://localhost:3000/
package main

import (
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
)

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	formInput  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// jar keeps cookies per host, ignoring Secure (the app runs on http://localhost).
type jar map[string]map[string]string

func (j jar) update(u *url.URL, resp *http.Response) {
	for _, c := range resp.Cookies() {
		if j[u.Host] == nil {
			j[u.Host] = map[string]string{}
		}
		if c.Value == "" || c.MaxAge < 0 {
			delete(j[u.Host], c.Name)
		} else {
			j[u.Host][c.Name] = c.Value
		}
	}
}

func (j jar) header(host string) string {
	var parts []string
	for k, v := range j[host] {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: login APP_URL")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cookies := jar{}
	do := func(method, target string, form url.Values) (*http.Response, string) {
		u, err := url.Parse(target)
		if err != nil {
			log.Fatal(err)
		}
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, target, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Accept", "text/html")
		if h := cookies.header(u.Host); h != "" {
			req.Header.Set("Cookie", h)
		}
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		cookies.update(u, resp)
		return resp, string(b)
	}
	app := os.Args[1]
	resp, _ := do(http.MethodGet, app, nil)
	resp, body := do(http.MethodGet, resp.Header.Get("Location"), nil)
	m := formAction.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		log.Fatalf("expected the auto-submitting form_post page, got %d (is DEV_PROVIDER_AUTOLOGIN=true?)", resp.StatusCode)
	}
	form := url.Values{}
	for _, in := range formInput.FindAllStringSubmatch(body, -1) {
		form.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	resp, _ = do(http.MethodPost, html.UnescapeString(m[1]), form)
	if resp.StatusCode/100 != 3 {
		log.Fatalf("callback answered %d", resp.StatusCode)
	}
	u, _ := url.Parse(app)
	resp, body = do(http.MethodGet, app, nil)
	if !strings.Contains(body, "hello") {
		log.Fatalf("not logged in: %d %q", resp.StatusCode, body)
	}
	fmt.Println(cookies.header(u.Host))
}
