// A small node:http static server on 127.0.0.1 for the browser benchmarks: the repository's
// web/ package under /web/, a bundled oauth4webapi under /vendor/, a bench page, and a stub of
// authsplit's `POST /auth/transactions` (a valid TransactionResponse, wire.rs, for the request's
// state, challenge and nonce) so that login() never needs a backend. Cross-origin isolated
// (COOP/COEP) so that performance.now() has its finer resolution in Chromium.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize, extname } from 'node:path';

const TYPES = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
};

/**
 * @param {{ webDir: string, vendor: Record<string, Buffer|string> }} opts
 * @returns {Promise<{ url: string, counts: Record<string, number>, close: () => Promise<void> }>}
 */
export async function startStatic({ webDir, vendor }) {
  const counts = { transactions: 0, authorize: 0 };
  let origin = '';
  const server = createServer(async (req, res) => {
    const base = {
      'cache-control': 'no-store',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    };
    const url = new URL(req.url, origin);
    try {
      if (req.method === 'POST' && url.pathname === '/auth/transactions') {
        counts.transactions++;
        let raw = '';
        for await (const chunk of req) raw += chunk;
        const b = JSON.parse(raw);
        // authsplit_core::wire::TransactionResponse: the finished authorization URL carrying
        // the request's state, challenge and nonce (the browser checks them).
        const q = new URLSearchParams({ response_type: 'code', client_id: 'bench-client', redirect_uri: `${origin}/callback`, scope: 'openid profile', state: b.state, code_challenge: b.code_challenge, code_challenge_method: 'S256' });
        if (b.nonce) q.set('nonce', b.nonce);
        const body = JSON.stringify({
          authorization_url: `${origin}/authorize?${q}`,
          issuer: origin,
          require_iss: false,
          code_param: 'code',
          expires_in: 600,
        });
        res.writeHead(201, { ...base, 'content-type': 'application/json' });
        res.end(body);
        return;
      }
      if (req.method !== 'GET') {
        res.writeHead(405, base).end();
        return;
      }
      if (url.pathname === '/authorize') {
        counts.authorize++;
        res.writeHead(200, { ...base, 'content-type': 'text/plain' }).end('authorize stub');
        return;
      }
      if (url.pathname === '/' || url.pathname === '/blank.html') {
        res.writeHead(200, { ...base, 'content-type': TYPES['.html'] });
        res.end('<!doctype html><meta charset="utf-8"><title>bench</title><body>bench</body>');
        return;
      }
      if (url.pathname.startsWith('/vendor/')) {
        const name = url.pathname.slice('/vendor/'.length);
        if (Object.hasOwn(vendor, name)) {
          res.writeHead(200, { ...base, 'content-type': TYPES['.js'] }).end(vendor[name]);
          return;
        }
      }
      if (url.pathname.startsWith('/web/')) {
        const rel = normalize(decodeURIComponent(url.pathname.slice('/web/'.length)));
        if (!rel.startsWith('..')) {
          const data = await readFile(join(webDir, rel));
          res.writeHead(200, { ...base, 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream' });
          res.end(data);
          return;
        }
      }
      res.writeHead(404, base).end('not found');
    } catch {
      if (!res.headersSent) res.writeHead(404, base);
      res.end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${server.address().port}`;
  return {
    url: origin,
    counts,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
