// provider.mjs starts node-oidc-provider (a certified OpenID provider) on
// 127.0.0.1 for the interoperability tests of github.com/openidconnect-go/oidc.
//
//   node provider.mjs [--port N] [--clients clients.json] [--dev-interactions]
//                     [--profile dpop,resources,fapi2] [--exit-with-stdin]
//
// The first line on stdout is the issuer URL (http://127.0.0.1:<port>); the
// port is chosen by the system with --port 0 (the default). Diagnostics go to
// stderr. The process exits on SIGTERM or SIGINT, and with --exit-with-stdin
// also when stdin closes (so it never outlives the test binary that started
// it).
//
// --clients names a JSON file holding an array of client metadata objects in
// oidc-provider's format (RFC 7591 names). Without it, one client for
// examples/basic on http://localhost:3000 is registered (see defaultClients).
//
// Logins need no user interaction: the interaction route signs in the account
// named by the login_hint parameter (default "interop-user") and grants every
// requested scope and claim. With --dev-interactions, oidc-provider's own
// development login and consent pages are used instead (for browser tests).
//
// Development mode only (NODE_ENV must not be "production"): http issuer,
// http redirect URIs for the implicit flow, back-channel logout to loopback
// addresses.
//
// --profile turns on feature profiles (comma-separated; see profiles.mjs):
// "dpop" (DPoP with server nonces, DPoP-bound clients), "resources"
// (resource indicators for https://api-a.example and https://api-b.example,
// JWT access tokens) and "fapi2" (FAPI 2.0: PAR, PKCE, private_key_jwt,
// DPoP, PS256/ES256). Without it the provider behaves as it always did.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

import { applyProfiles, parseProfiles } from './profiles.mjs';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const DEFAULT_ACCOUNT = 'interop-user';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    clients: { type: 'string' },
    'dev-interactions': { type: 'boolean', default: false },
    'exit-with-stdin': { type: 'boolean', default: false },
    profile: { type: 'string', default: '' },
  },
});
const profiles = parseProfiles(args.profile);

function defaultClients() {
  return [{
    client_id: 'interop-basic',
    client_secret: 'interop-basic-secret-0123456789abcdef',
    redirect_uris: ['http://localhost:3000/callback'],
    post_logout_redirect_uris: ['http://localhost:3000', 'http://localhost:3000/'],
    response_types: ['id_token', 'code', 'code id_token'],
    grant_types: ['implicit', 'authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'client_secret_basic',
  }];
}

if (profiles.has('fapi2') && !args.clients) {
  process.stderr.write('provider.mjs: --profile fapi2 needs --clients (private_key_jwt client keys)\n');
  process.exit(2);
}
const clients = args.clients ? JSON.parse(readFileSync(args.clients, 'utf8')) : defaultClients();

// Every account exists; its claims derive from its id.
async function findAccount(_ctx, id) {
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        name: `Interop User ${id}`,
        nickname: id,
        preferred_username: id,
        email: `${id}@interop.example`,
        email_verified: true,
      };
    },
  };
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

const configuration = {
  clients,
  findAccount,
  jwks: { keys: [signingKey] },
  cookies: { keys: ['interop-cookie-signing-key-0123456789abcdef'] },
  claims: {
    acr: null,
    auth_time: null,
    iss: null,
    sid: null,
    openid: ['sub'],
    profile: ['name', 'nickname', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  responseTypes: ['code', 'id_token', 'code id_token'],
  pkce: { required: () => true },
  // Refresh tokens for every client allowed the refresh_token grant (no
  // offline_access + prompt=consent dance), rotated on every use.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 600,
    Interaction: 600,
    Grant: 3600,
    Session: 3600,
    RefreshToken: 3600,
    BackchannelAuthenticationRequest: 600,
    DeviceCode: 600,
  },
  clientBasedCORS: () => false,
  features: {
    devInteractions: { enabled: args['dev-interactions'] },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    pushedAuthorizationRequests: { enabled: true },
    requestObjects: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
  },
  // oidc-provider refuses outgoing requests (back-channel logout) to
  // special-use addresses such as 127.0.0.1; the tests' relying parties live
  // there. Trust for their TLS certificate comes from NODE_EXTRA_CA_CERTS.
  fetch: (url, options) => {
    const { dispatcher: _ignored, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
};
if (!args['dev-interactions']) {
  configuration.interactions = { url: (_ctx, interaction) => `/interaction/${interaction.uid}` };
}
applyProfiles(configuration, profiles, errors);

// An RFC 8693 token exchange, which oidc-provider does not implement: the
// subject token must be an access token this provider issued and still
// honours; the new access token is for the same account and grant, with the
// requested scope narrowed to the subject token's.
async function tokenExchange(ctx, provider) {
  const { params, client } = ctx.oidc;
  if (!params.subject_token) throw new errors.InvalidRequest('missing subject_token');
  if (params.subject_token_type !== TOKEN_TYPE_ACCESS_TOKEN) {
    throw new errors.InvalidRequest('unsupported subject_token_type');
  }
  if (params.requested_token_type && params.requested_token_type !== TOKEN_TYPE_ACCESS_TOKEN) {
    throw new errors.InvalidRequest('unsupported requested_token_type');
  }
  const subject = await provider.AccessToken.find(params.subject_token);
  if (!subject || subject.isExpired) throw new errors.InvalidGrant('subject_token is invalid or expired');
  const held = new Set(subject.scope.split(' '));
  const scope = (params.scope ? params.scope.split(' ') : [...held]).filter((s) => held.has(s)).join(' ');
  const token = new provider.AccessToken({
    accountId: subject.accountId,
    client,
    grantId: subject.grantId,
    gty: 'token_exchange',
    scope,
    claims: subject.claims,
    sessionUid: subject.sessionUid,
    expiresWithSession: subject.expiresWithSession,
  });
  const value = await token.save();
  ctx.body = {
    access_token: value,
    issued_token_type: TOKEN_TYPE_ACCESS_TOKEN,
    token_type: 'Bearer',
    expires_in: token.expiration,
    scope,
  };
}

// Automatic sign-in and consent (no pages): see the file comment.
async function autoInteraction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const accountId = params.login_hint || DEFAULT_ACCOUNT;
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    const consent = details.grantId ? {} : { grantId };
    await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
    return;
  }
  res.statusCode = 400;
  res.end(`unsupported prompt ${prompt.name}`);
}

function log(event, fields) {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
}

let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handler(req, res));

server.listen(Number(args.port), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);

  // Development relying parties use the implicit flow on http://localhost.
  const { invalidate } = provider.Client.Schema.prototype;
  provider.Client.Schema.prototype.invalidate = function allowHTTPImplicit(message, code) {
    if (code === 'implicit-force-https' || code === 'implicit-forbid-localhost') return;
    invalidate.call(this, message, code);
  };

  provider.registerGrantType(TOKEN_EXCHANGE, (ctx) => tokenExchange(ctx, provider), [
    'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type',
    'requested_token_type', 'audience', 'scope',
  ]);

  for (const event of ['server_error', 'backchannel.error', 'grant.error', 'authorization.error',
    'end_session.error', 'pushed_authorization_request.error', 'userinfo.error']) {
    provider.on(event, (...a) => {
      const err = a.find((x) => x instanceof Error);
      log(event, { error: err?.message, description: err?.error_description });
    });
  }
  provider.on('backchannel.success', (_ctx, client, accountId, sid) => {
    log('backchannel.success', { client: client.clientId, accountId, sid });
  });

  const callback = provider.callback();
  handler = (req, res) => {
    if (!args['dev-interactions'] && req.url.startsWith('/interaction/')) {
      autoInteraction(provider, req, res).catch((err) => {
        log('interaction.error', { error: err.message });
        res.statusCode = 500;
        res.end(`interaction failed: ${err.message}`);
      });
      return;
    }
    callback(req, res);
  };
  process.stdout.write(`${issuer}\n`);
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
if (args['exit-with-stdin']) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
