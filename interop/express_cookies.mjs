// express_cookies.mjs runs the real express-openid-connect for the Go cookie
// interoperability tests (express_test.go): four Express applications (see
// express_apps.mjs) sharing one secret and one client.
//
//   node express_cookies.mjs --issuer URL --secret S --client-id ID \
//                            --client-secret CS [--exit-with-stdin]
//
// The first line on stdout is a JSON object with the applications' base
// URLs: {"cookie": ..., "code": ..., "store": ..., "unsigned": ...,
// "versions": {...}}.
// The issuer is only contacted for logins and callbacks (discovery, JWKS,
// token endpoint); the tests point it at a stub provider.
import { parseArgs } from 'node:util';

import { startApps, versions } from './express_apps.mjs';

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    secret: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'exit-with-stdin': { type: 'boolean', default: false },
  },
});
for (const required of ['issuer', 'secret', 'client-id', 'client-secret']) {
  if (!args[required]) {
    process.stderr.write(`express_cookies.mjs: --${required} is required\n`);
    process.exit(2);
  }
}

const { urls } = await startApps({
  issuer: args.issuer,
  secret: args.secret,
  clientID: args['client-id'],
  clientSecret: args['client-secret'],
});
process.stdout.write(`${JSON.stringify({ ...urls, versions })}\n`);

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
if (args['exit-with-stdin']) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
