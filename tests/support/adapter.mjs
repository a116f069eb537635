// A per-provider in-memory storage adapter for oidc-provider.
//
// Why not the built-in MemoryAdapter: it shares one global store between every Provider in the
// process (tests start several), and we want (a) clients stored in the adapter so their
// redirect_uris can be changed after start-up (oidc-provider re-reads adapter clients on every
// lookup and re-validates them when the metadata changes), and (b) direct access to the stored
// tokens so tests can ask "does this refresh token still exist at the provider?".

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/** One shared store: Map<key, { payload, expiresAt }>. */
export class Store {
  constructor() {
    /** @type {Map<string, { payload: any, expiresAt: number }>} */
    this.entries = new Map();
    /** @type {Map<string, Set<string>>} grantId → keys */
    this.grants = new Map();
    /** @type {Map<string, string>} */
    this.sessionUids = new Map();
    /** @type {Map<string, string>} */
    this.userCodes = new Map();
  }

  get(key) {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  set(key, payload, expiresInSecs) {
    const expiresAt =
      typeof expiresInSecs === 'number' ? Date.now() + expiresInSecs * 1000 : Infinity;
    this.entries.set(key, { payload, expiresAt });
  }

  delete(key) {
    this.entries.delete(key);
  }

  /** An adapter factory for `new Provider(issuer, { adapter })`. */
  adapterFactory() {
    // oidc-provider calls `new adapter(name)`, so return a class bound to this store.
    const store = this;
    return class BoundAdapter extends Adapter {
      constructor(model) {
        super(model, store);
      }
    };
  }
}

class Adapter {
  /** @param {string} model @param {Store} store */
  constructor(model, store) {
    this.model = model;
    this.store = store;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    this.store.set(key, payload, expiresIn);
    if (this.model === 'Session' && payload.uid) this.store.sessionUids.set(payload.uid, id);
    if (payload.userCode) this.store.userCodes.set(payload.userCode, id);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      let members = this.store.grants.get(payload.grantId);
      if (!members) {
        members = new Set();
        this.store.grants.set(payload.grantId, members);
      }
      members.add(key);
    }
  }

  async find(id) {
    return this.store.get(this.key(id));
  }

  async findByUid(uid) {
    const id = this.store.sessionUids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = this.store.userCodes.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = this.store.get(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const members = this.store.grants.get(grantId);
    if (!members) return;
    for (const key of members) this.store.delete(key);
    this.store.grants.delete(grantId);
  }
}
