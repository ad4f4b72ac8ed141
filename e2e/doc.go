// Package e2e holds browser end-to-end tests: real headless Chromium, driven
// with chromedp, logs in through real login pages.
//
//   - TestBasicExample builds and runs examples/basic, which starts the
//     embedded development provider (oidctest) with its interactive login
//     page, and walks through login, reload and logout.
//   - TestNodeOIDCProvider runs the same journey against node-oidc-provider's
//     own login, consent and logout pages (interop/provider.mjs with
//     --dev-interactions), with a small Go app using the middleware, once
//     per flow: implicit form_post (the default), code + PKCE with
//     form_post, and code + PKCE with query.
//
// The tests need Chromium (/usr/bin/chromium or chromium on PATH) and, for
// the second test, node with `npm ci` run in interop/. When one is missing
// they skip, except under CI=true, where they fail. On failure a screenshot
// and the page's HTML are written to e2e/artifacts/ (gitignored); the test log
// prints the path.
//
// This is a separate module so that chromedp never becomes a dependency of
// the core module.
package e2e
