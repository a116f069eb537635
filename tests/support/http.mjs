// A tiny browser stand-in for calling the backend from Node: fetch with a cookie jar, the CSRF
// header and an Origin, plus the PKCE / state / nonce values a browser would make. The
// authorization URL is the one `POST /transactions` returns (`authorization_url`).

import { createHash, randomBytes } from 'node:crypto';

/** The custom CSRF header (authsplit-core wire::CSRF_HEADER). */
export const CSRF_HEADER = 'x-authsplit';

/** A PKCE pair (RFC 7636 §4.1, §4.2): 32 random bytes → 43-char verifier, S256 challenge. */
export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: s256(verifier) };
}

/** BASE64URL(SHA256(ascii)) without padding (RFC 7636 §4.2). */
export function s256(verifier) {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** 128+ bits of randomness, base64url (RFC 6749 §10.12). */
export function randomToken(bytes = 32) {
  return randomBytes(bytes).toString('base64url');
}

/**
 * A minimal cookie jar: name → value, honouring deletion (Max-Age<=0 or Expires in the past).
 * Keeps every raw Set-Cookie header too, so tests can check attributes. Domain/path matching is
 * not needed: every client talks to one origin.
 */
export class CookieJar {
  constructor() {
    /** @type {Map<string, string>} */
    this.cookies = new Map();
    /** @type {string[]} every Set-Cookie header ever received */
    this.setCookieHeaders = [];
  }

  /** @param {Response} res */
  store(res) {
    for (const header of res.headers.getSetCookie()) {
      this.setCookieHeaders.push(header);
      const [pair, ...attrs] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let remove = false;
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'max-age' && Number(v.trim()) <= 0) remove = true;
        if (key === 'expires' && Date.parse(v.trim()) <= Date.now()) remove = true;
      }
      if (remove) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** The Cookie request header value, or undefined when empty. */
  header() {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** A copy (e.g. to replay an old cookie later). */
  clone() {
    const j = new CookieJar();
    j.cookies = new Map(this.cookies);
    return j;
  }
}

/**
 * A backend client that behaves like the SPA's fetch with `credentials: "include"`.
 *
 * @param {string} authUrl the router's base URL, e.g. `http://127.0.0.1:PORT/auth`
 * @param {{ origin: string, jar?: CookieJar }} opts origin = the SPA origin the server allows
 */
export function backendClient(authUrl, { origin, jar = new CookieJar() }) {
  /**
   * @param {'GET'|'POST'} method
   * @param {string} path e.g. '/token'
   * @param {object} [body] JSON body (POST)
   * @param {{ csrf?: boolean, origin?: string|null, headers?: Record<string,string>, rawBody?: string, jar?: CookieJar }} [o]
   * @returns {Promise<{ status: number, headers: Headers, text: string, json: any }>}
   */
  async function call(method, path, body, o = {}) {
    const useJar = o.jar ?? jar;
    const headers = { accept: 'application/json' };
    const orig = o.origin === undefined ? origin : o.origin;
    if (orig !== null) headers.origin = orig;
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      if (o.csrf !== false) headers[CSRF_HEADER] = '1';
    }
    const cookie = useJar.header();
    if (cookie) headers.cookie = cookie;
    Object.assign(headers, o.headers ?? {});
    const res = await fetch(authUrl + path, {
      method,
      headers,
      body: method === 'POST' ? (o.rawBody ?? JSON.stringify(body ?? {})) : undefined,
      redirect: 'manual',
    });
    useJar.store(res);
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }
  return {
    jar,
    get: (path, o) => call('GET', path, undefined, o),
    post: (path, body, o) => call('POST', path, body, o),
  };
}
