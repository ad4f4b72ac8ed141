// express_apps.mjs builds Express applications that use the real
// express-openid-connect, for the cookie interoperability tests
// (express_cookies.mjs) and the fixture generator (gen_fixtures.mjs).
//
// Four applications share one secret and one client:
//
//   cookie    cookie sessions, response_type id_token + form_post (the defaults)
//   code      cookie sessions, response_type code + response_mode query (PKCE)
//   store     store sessions (an in-memory store) with signSessionStoreCookie
//   unsigned  store sessions in the same store with express's default
//             unsigned session-id cookie
//
// Besides express-openid-connect's /login, /logout and /callback, each has
// test routes:
//
//   POST /__seed       merges the JSON body into req.appSession (the session
//                      cookie, or store entry and id cookie, is written)
//   GET  /__session    {session, authenticated, user, claims} for the cookies sent
//   GET  /__store/:id  the raw store entry ({header, data, cookie}) (store
//                      and unsigned only)
//   PUT  /__store/:id  writes a raw store entry (store and unsigned only)
//
// Errors answer {error, status} with the error's status, so that a failed
// /callback is readable.
import http from 'node:http';
import { createRequire } from 'node:module';

import express from 'express';
import eoc from 'express-openid-connect';

const require = createRequire(import.meta.url);
export const versions = {
  'express-openid-connect': require('express-openid-connect/package.json').version,
  express: require('express/package.json').version,
  node: process.version,
};

const { auth } = eoc;

// MemoryStore is the smallest store express-openid-connect accepts
// (promise-returning get, set and destroy).
export class MemoryStore {
  constructor() {
    this.entries = new Map();
  }

  async get(id) {
    const entry = this.entries.get(id);
    return entry === undefined ? undefined : structuredClone(entry);
  }

  async set(id, entry) {
    this.entries.set(id, structuredClone(entry));
  }

  async destroy(id) {
    this.entries.delete(id);
  }
}

function appConfig(kind, base, opts) {
  const config = {
    secret: opts.secret,
    baseURL: base,
    clientID: opts.clientID,
    issuerBaseURL: opts.issuer,
    authRequired: false,
    idpLogout: false,
  };
  if (kind === 'code') {
    config.clientSecret = opts.clientSecret;
    config.authorizationParams = { response_type: 'code', response_mode: 'query', scope: 'openid profile email' };
  }
  if (kind === 'store') {
    config.session = { store: opts.store, signSessionStoreCookie: true };
  }
  if (kind === 'unsigned') {
    config.session = { store: opts.store };
  }
  return config;
}

function makeApp(kind, base, opts) {
  const app = express();
  app.use(express.json({ limit: '1mb' }));
  app.use(auth(appConfig(kind, base, opts)));

  app.post('/__seed', (req, res) => {
    Object.assign(req.appSession, req.body);
    res.json({ ok: true });
  });
  app.get('/__session', (req, res) => {
    res.json({
      session: req.appSession,
      authenticated: req.oidc.isAuthenticated(),
      user: req.oidc.user ?? null,
      claims: req.oidc.idTokenClaims ?? null,
    });
  });
  if (kind === 'store' || kind === 'unsigned') {
    app.get('/__store/:id', async (req, res) => {
      const entry = await opts.store.get(req.params.id);
      if (entry === undefined) {
        res.status(404).json({ error: 'no such entry', status: 404 });
        return;
      }
      res.json(entry);
    });
    app.put('/__store/:id', async (req, res) => {
      await opts.store.set(req.params.id, req.body);
      res.json({ ok: true });
    });
  }
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    const status = err.status || err.statusCode || 500;
    res.status(status).json({ error: err.message, status });
  });
  return app;
}

function listen(handler) {
  return new Promise((resolve, reject) => {
    const server = http.createServer(handler);
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// startApps starts the four applications on 127.0.0.1 and returns their
// base URLs, the store of the store application, and a close function.
// opts: {issuer, secret, clientID, clientSecret}.
export async function startApps(opts) {
  const store = new MemoryStore();
  const urls = {};
  const servers = [];
  for (const kind of ['cookie', 'code', 'store', 'unsigned']) {
    let app;
    const server = await listen((req, res) => app(req, res));
    const base = `http://127.0.0.1:${server.address().port}`;
    app = makeApp(kind, base, { ...opts, store });
    urls[kind] = base;
    servers.push(server);
  }
  const close = () => Promise.all(servers.map((s) => new Promise((r) => {
    s.closeAllConnections();
    s.close(r);
  })));
  return { urls, store, close };
}
