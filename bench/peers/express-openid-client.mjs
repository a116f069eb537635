// Peer (a) of benchmark 3: a Node express endpoint doing the authorization-code exchange with
// openid-client 6.8.9 — the same exchange authsplit-server's POST /auth/token does: code +
// PKCE verifier, state checked, client_secret_basic, one token request to the stub endpoint.
//
//   node bench/peers/express-openid-client.mjs <listen ip:port> <token endpoint URL>
// Prints `express listening on http://IP:PORT` once bound. POST /token with JSON
// {code, state, code_verifier} → 200 {access_token, token_type, expires_in}.
import express from 'express';
import * as client from 'openid-client';

const [listen = '127.0.0.1:0', tokenEndpoint] = process.argv.slice(2);
if (!tokenEndpoint) throw new Error('usage: express-openid-client.mjs <ip:port> <token endpoint>');
const issuer = new URL(tokenEndpoint).origin;
const REDIRECT_URI = 'https://app.example/callback';

const config = new client.Configuration(
  { issuer, token_endpoint: tokenEndpoint, authorization_endpoint: `${issuer}/authorize` },
  'bench client',
  { redirect_uris: [REDIRECT_URI] },
  client.ClientSecretBasic('a+b:c%d/e f'),
);
client.allowInsecureRequests(config); // the stub is http on 127.0.0.1

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '16kb' }));
app.post('/token', async (req, res) => {
  const { code, state, code_verifier: verifier } = req.body ?? {};
  if (typeof code !== 'string' || typeof state !== 'string' || typeof verifier !== 'string') {
    res.status(400).json({ error: 'invalid_request' });
    return;
  }
  try {
    const callback = new URL(REDIRECT_URI);
    callback.searchParams.set('code', code);
    callback.searchParams.set('state', state);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    res.set('cache-control', 'no-store');
    res.json({ access_token: tokens.access_token, token_type: tokens.token_type, expires_in: tokens.expires_in });
  } catch (e) {
    res.status(502).json({ error: 'exchange_failed', error_description: String(e?.code ?? e?.name) });
  }
});

const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
const server = app.listen(port, host, () => {
  const a = server.address();
  console.log(`express listening on http://${a.address}:${a.port}`);
});
const shutdown = () => server.close(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
