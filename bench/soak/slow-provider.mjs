// The slow provider of bench/soak/slow-provider.sh: tests/support/faulty-provider.mjs with every
// token request answered `ok` (a fresh token response) after DELAY_MS (default 2000).
// Prints `slow provider listening on http://127.0.0.1:PORT` once bound; on SIGTERM/SIGINT
// writes {token_requests, max_in_flight} as JSON to the file named by argv[2], closes every
// connection and exits 0.
//
//   node bench/soak/slow-provider.mjs STATS.json [DELAY_MS=2000]
import { writeFileSync } from 'node:fs';
import { startFaultyProvider } from '../../tests/support/faulty-provider.mjs';

const statsFile = process.argv[2];
const delayMs = Number(process.argv[3] ?? 2000);
if (!statsFile || !(delayMs >= 0)) {
  console.error('usage: node slow-provider.mjs STATS.json [DELAY_MS]');
  process.exit(2);
}
const fp = await startFaultyProvider({ defaultFault: { name: 'ok', delayMs } });
console.log(`slow provider listening on ${fp.url}`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  const tokens = fp.history.filter((c) => c.endpoint === 'token');
  writeFileSync(
    statsFile,
    JSON.stringify({
      delay_ms: delayMs,
      token_requests: tokens.length,
      max_in_flight: fp.maxInFlight('token'),
      other_requests: fp.history.length - tokens.length,
    }) + '\n',
  );
  await fp.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
