#!/usr/bin/env node
// Stand-alone local OpenID provider for the demo (scripts/demo.sh) and for manual testing.
//
//   node tests/support/op-server.mjs --port 9000 --redirect-uri http://127.0.0.1:8080/callback
//
// Prints one line `oidc-provider listening on http://127.0.0.1:PORT` when ready, then the
// clients it serves. Stops on SIGINT / SIGTERM. Any login and password are accepted.

import { parseArgs } from 'node:util';

import { startOP, BASIC_CLIENT, POST_CLIENT } from './op.mjs';

const HELP = `usage: node tests/support/op-server.mjs [options]

A local OpenID provider (npm oidc-provider) for the authsplit demo. Listens on 127.0.0.1 only.

options:
  --port N                       port to listen on (default 9000; 0 = any free port)
  --redirect-uri URI             a registered redirect URI (repeatable;
                                 default http://127.0.0.1:8080/callback)
  --post-logout-redirect-uri URI a registered post-logout redirect URI (repeatable;
                                 default: the origin of each redirect URI + "/")
  --access-token-ttl SECONDS     access token lifetime (default 3600)
  -h, --help                     this help

clients (confidential, authorization_code + refresh_token, PKCE S256 required):
  ${BASIC_CLIENT.id}  client_secret_basic  secret: ${BASIC_CLIENT.secret}
  ${POST_CLIENT.id}   client_secret_post   secret: ${POST_CLIENT.secret}
`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: 'string', default: '9000' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'access-token-ttl': { type: 'string', default: '3600' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (e) {
  process.stderr.write(`${e.message}\n\n${HELP}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const port = Number(values.port);
const ttl = Number(values['access-token-ttl']);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(ttl) || ttl < 1) {
  process.stderr.write(`invalid --port or --access-token-ttl\n\n${HELP}`);
  process.exit(2);
}
const redirectUris = values['redirect-uri'] ?? ['http://127.0.0.1:8080/callback'];
const postLogout =
  values['post-logout-redirect-uri'] ?? [...new Set(redirectUris.map((u) => `${new URL(u).origin}/`))];

const op = await startOP({
  port,
  redirectUris,
  postLogoutRedirectUris: postLogout,
  accessTokenTTL: ttl,
});

console.log(`oidc-provider listening on ${op.issuer}`);
console.log(`  redirect URIs: ${redirectUris.join(', ')}`);
console.log(`  clients: ${BASIC_CLIENT.id} (client_secret_basic), ${POST_CLIENT.id} (client_secret_post)`);
console.log('  log in with any user name and password');

let stopping = false;
const stop = async (signal) => {
  if (stopping) return;
  stopping = true;
  await op.close();
  console.log(`oidc-provider stopped (${signal})`);
  process.exit(0);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
