// profiles.mjs configures node-oidc-provider 9 for the feature profiles of
// provider.mjs --profile (see there). Each profile only adds to the
// configuration; several can be combined ("resources,dpop").
//
// dpop: features.dPoP with server nonces required at every DPoP-capable
//   endpoint (token, PAR, userinfo; answered with use_dpop_nonce and a
//   DPoP-Nonce header), proofs in ES256, EdDSA, PS256 or RS256, and clients
//   DPoP-bound by default (dpop_bound_access_tokens; a client may set it to
//   false in --clients).
// resources: features.resourceIndicators for RESOURCE_SERVERS. Access
//   tokens for a resource are JWTs (RS256, the provider's JWKS) whose aud is
//   that resource alone, with the scopes of the request that the resource
//   knows (api:read, api:write); with DPoP they carry cnf.jkt. Without a
//   resource parameter at the token endpoint and with openid in scope, the
//   access token is for userinfo (opaque). Refresh grants take one granted
//   resource.
// fapi2: features.fapi profile 2.0: PAR required, PKCE S256,
//   private_key_jwt (PS256, ES256 or EdDSA assertions) as the only client
//   authentication, DPoP-bound access tokens (no nonces), response_type
//   code, ID tokens in PS256 (ES256 for clients that ask). Client keys come
//   with --clients (jwks).
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';

export const PROFILES = ['dpop', 'resources', 'fapi2'];

// RESOURCE_SERVERS are the resource indicators of the resources profile.
export const RESOURCE_SERVERS = ['https://api-a.example', 'https://api-b.example'];
const RESOURCE_SCOPE = 'api:read api:write';

export function parseProfiles(arg) {
  const set = new Set(arg.split(',').map((s) => s.trim()).filter(Boolean));
  for (const p of set) {
    if (!PROFILES.includes(p)) {
      throw new TypeError(`unknown --profile ${p} (want ${PROFILES.join(', ')})`);
    }
  }
  return set;
}

function key(type, alg) {
  const options = type === 'rsa' ? { modulusLength: 2048 } : { namedCurve: 'P-256' };
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, use: 'sig' };
}

function dpop(configuration, { nonces }) {
  configuration.features.dPoP = {
    enabled: true,
    ...(nonces ? { nonceSecret: randomBytes(32), requireNonce: () => true } : {}),
  };
  configuration.enabledJWA = {
    ...configuration.enabledJWA,
    dPoPSigningAlgValues: ['ES256', 'EdDSA', 'PS256', 'RS256'],
  };
  configuration.clientDefaults = { ...configuration.clientDefaults, dpop_bound_access_tokens: true };
}

function resources(configuration, errors) {
  configuration.features.resourceIndicators = {
    enabled: true,
    // One resource at the authorization request is the default at the
    // token endpoint when the scope has no openid; several must be named.
    defaultResource: (_ctx, _client, oneOf) => oneOf,
    useGrantedResource: () => false,
    getResourceServerInfo: (_ctx, resourceIndicator) => {
      if (!RESOURCE_SERVERS.includes(resourceIndicator)) {
        throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
      }
      return {
        audience: resourceIndicator,
        scope: RESOURCE_SCOPE,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  };
  configuration.scopes = ['openid', 'offline_access', 'profile', 'email', ...RESOURCE_SCOPE.split(' ')];
}

function fapi2(configuration) {
  configuration.features.fapi = { enabled: true, profile: '2.0' };
  configuration.features.pushedAuthorizationRequests = {
    enabled: true,
    requirePushedAuthorizationRequests: true,
  };
  // FAPI 2.0 §5.4: PS256, ES256 and EdDSA only.
  configuration.jwks.keys.push(key('rsa', 'PS256'), key('ec', 'ES256'));
  configuration.enabledJWA = {
    ...configuration.enabledJWA,
    idTokenSigningAlgValues: ['PS256', 'ES256'],
    clientAuthSigningAlgValues: ['PS256', 'ES256', 'EdDSA'],
    requestObjectSigningAlgValues: ['PS256', 'ES256', 'EdDSA'],
    dPoPSigningAlgValues: ['PS256', 'ES256', 'EdDSA'],
  };
  configuration.clientAuthMethods = ['private_key_jwt'];
  configuration.responseTypes = ['code'];
  configuration.clientDefaults = {
    ...configuration.clientDefaults,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'PS256',
    id_token_signed_response_alg: 'PS256',
    require_pushed_authorization_requests: true,
    dpop_bound_access_tokens: true,
  };
}

// applyProfiles edits configuration (provider.mjs's) for profiles.
export function applyProfiles(configuration, profiles, errors) {
  if (profiles.has('dpop') || profiles.has('fapi2')) {
    dpop(configuration, { nonces: profiles.has('dpop') });
  }
  if (profiles.has('resources')) resources(configuration, errors);
  if (profiles.has('fapi2')) fapi2(configuration);
}
