import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isGossipAddress, MAX_GOSSIP_ADDRESS_LENGTH, type PeerRecord } from '@mycelium/contracts/agent';
import { IdentityRejection, newNonce, nodeIdOf, openEnvelope, peekEnvelope, ReplayGuard, sealEnvelope, type SignedEnvelope, verifyMembership } from '@mycelium/identity';
import type { NodeIdentity } from './node-identity.js';

/** Where a record comes from, in order of authority: the registry, the seed snapshot, gossip. */
export type Authority = 'primary' | 'seed' | 'latent';
const RANK: Record<Authority, number> = { latent: 0, seed: 1, primary: 2 };

export interface ViewEntry extends PeerRecord {
  authority: Authority;
}

/** A node's own record, signed by it: gossip carries only these, so nobody can speak for another. */
interface SelfRecord {
  kind: 'self';
  network: string;
  nodeId: string;
  address: string;
  /**
   * The signer's clock when it signed (it grows every round): the freshest record of a node wins
   * among gossip. Refused beyond MAX_CLOCK_SKEW_MS ahead of ours, or a node could outrank its own
   * later records for good.
   */
  version: number;
}

/** What two nodes exchange: the sender's signed digest of the records it knows. */
interface Digest {
  kind: 'gossip';
  network: string;
  from: string;
  ts: number;
  nonce: string;
  records: Certified[];
}

/**
 * A signed envelope with its signer's membership certificate beside it: the network vouches for
 * the key, the key for the content. Digests and records both travel this way, so a key the network
 * never admitted can neither talk nor be talked about.
 */
interface Certified extends SignedEnvelope {
  pub: string;
  membership: SignedEnvelope;
}

export interface GossipOptions {
  identity: NodeIdentity;
  /** The network: only keys it certified take part. */
  network: { id: string; publicKey: string };
  /**
   * This node's membership certificate, from its join. Without one it answers no exchange and starts
   * none (peers would drop its records); `certify` adds it later.
   */
  membership?: SignedEnvelope;
  /** Interface to listen on. */
  host?: string;
  port?: number;
  /** The address peers reach this node at; default http://host:port. For NAT, proxies, 0.0.0.0. */
  advertise?: string;
  /** Peers asked per round. */
  fanout?: number;
  intervalMs?: number;
  /** Records sent per exchange, at most (never above MAX_DIGEST_RECORDS). */
  maxRecords?: number;
  /** Nodes kept in the view, this one included; beyond it the lowest authority, then the longest unchanged, go. */
  maxPeers?: number;
  /** How long a peer may take to send its whole request before the server drops it. */
  requestTimeoutMs?: number;
  /** A refused request, or an exchange this node started that failed (a GossipExchangeFailed). */
  onError?: (error: unknown) => void;
}

/** Records a digest may carry: more is not an honest peer, and the digest is refused. */
export const MAX_DIGEST_RECORDS = 512;
/** A request or answer body, at most: a full digest with the longest addresses takes about 650 KiB. */
const MAX_BODY = 1024 * 1024;
/** How far ahead of our clock a self-record's version (its signer's clock) may be. */
export const MAX_CLOCK_SKEW_MS = 60_000;

/** An exchange this node started did not go through; `again` when the one before with that peer failed too. */
export class GossipExchangeFailed extends Error {
  constructor(
    readonly peer: string,
    readonly address: string,
    readonly again: boolean,
    cause: unknown,
  ) {
    super(`gossip with ${peer} at ${address} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'GossipExchangeFailed';
  }
}

class BodyTooLarge extends Error {
  constructor() {
    super(`a gossip body is at most ${MAX_BODY} bytes`);
    this.name = 'BodyTooLarge';
  }
}

/**
 * The latent spore: nodes swap the signed records of the peers they know with a few random peers
 * over HTTP, so the directory survives without NATS. Each record is signed by the node it is about
 * and each exchange by its sender, and both carry the network's certificate of the signer's key.
 * Where the registry (primary) or the seed snapshot disagree with gossip, the higher authority
 * wins; within one authority, the higher version.
 */
export class GossipNode {
  readonly #view = new Map<string, ViewEntry>();
  readonly #records = new Map<string, { envelope: Certified; version: number }>();
  /**
   * When each view entry last changed, in arrival order: the cap forgets by it, not by version,
   * since a member picks its own records' versions.
   */
  readonly #changed = new Map<string, number>();
  #changes = 0;
  /** Peers whose last exchange failed: the next failure is reported as a repeat. */
  readonly #failing = new Set<string>();
  /** Certificates already checked, by key: each record would otherwise cost two signature checks. */
  readonly #certified = new Map<string, string>();
  readonly #replays = new ReplayGuard(60_000);
  readonly #options: Required<Omit<GossipOptions, 'onError' | 'port' | 'membership' | 'advertise'>> & Pick<GossipOptions, 'onError' | 'port' | 'advertise'>;
  #membership: SignedEnvelope | undefined;
  #server: Server | undefined;
  #timer: NodeJS.Timeout | undefined;
  #address = '';
  #version = 0;
  #rounds = 0;

  constructor(options: GossipOptions) {
    const { membership, ...rest } = options;
    this.#options = { host: '127.0.0.1', fanout: 3, intervalMs: 1000, maxRecords: 256, maxPeers: 10_000, requestTimeoutMs: 5000, ...rest };
    if (options.advertise !== undefined && !isGossipAddress(options.advertise)) {
      throw new Error(`the gossip address ${options.advertise} is not an http(s) URL of at most ${MAX_GOSSIP_ADDRESS_LENGTH} characters without credentials, query or fragment`);
    }
    if (membership) this.certify(membership);
  }

  get nodeId(): string {
    return this.#options.identity.nodeId;
  }

  get address(): string {
    return this.#address;
  }

  get rounds(): number {
    return this.#rounds;
  }

  /** The network's certificate of this node's key, once it has one. */
  get membership(): SignedEnvelope | undefined {
    return this.#membership;
  }

  /** Takes this node's membership certificate (from a join); throws an IdentityRejection if it is not the network's word for this key. */
  certify(membership: SignedEnvelope): void {
    verifyMembership(membership, this.#options.network, this.#options.identity.publicKey);
    this.#membership = { payload: membership.payload, sig: membership.sig };
    this.#refreshSelf();
  }

  /** Starts serving exchanges; returns the address peers reach this node at. */
  async listen(): Promise<string> {
    const timeout = this.#options.requestTimeoutMs;
    // A peer that sends its request slowly, or never finishes it, is dropped: it cannot pin the server.
    const server = createServer(
      { requestTimeout: timeout, headersTimeout: timeout, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeout / 2))) },
      (request, response) => void this.#handle(request, response),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port ?? 0, this.#options.host, () => resolve());
    });
    this.#server = server;
    const host = this.#options.host.includes(':') ? `[${this.#options.host}]` : this.#options.host;
    this.#address = this.#options.advertise ?? `http://${host}:${(server.address() as AddressInfo).port}`;
    this.#refreshSelf();
    return this.#address;
  }

  /** Gossips every interval until stopped. */
  start(): void {
    this.#timer ??= setInterval(() => void this.round().catch((error: unknown) => this.#options.onError?.(error)), this.#options.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // close() waits for open connections, idle keep-alives and half-sent requests included.
    server.closeAllConnections();
    await closed;
  }

  /** Records from a higher authority: the registry (join replies) or a seed snapshot. */
  learn(records: PeerRecord[], authority: Exclude<Authority, 'latent'>): void {
    for (const record of records) this.#merge({ ...record, authority });
    this.#forgetBeyondCap();
  }

  /** Everyone this node knows, itself included. */
  view(): ViewEntry[] {
    return [...this.#view.values()];
  }

  /**
   * One exchange with up to `fanout` random peers that have an address; none before this node has
   * its certificate. Each failed exchange goes to `onError`.
   */
  async round(): Promise<void> {
    this.#rounds += 1;
    if (!this.#membership) return;
    this.#refreshSelf();
    const candidates = [...this.#view.values()].filter((entry) => entry.nodeId !== this.nodeId && entry.address && entry.status !== 'left');
    const chosen: ViewEntry[] = [];
    while (chosen.length < this.#options.fanout && candidates.length > 0) chosen.push(candidates.splice(randomInt(candidates.length), 1)[0]!);
    await Promise.all(
      chosen.map(async (peer) => {
        try {
          const answer = await postJson(`${peer.address!.replace(/\/$/, '')}/gossip`, JSON.stringify(this.#digest()), Math.max(500, this.#options.intervalMs));
          this.#receive(answer);
          this.#failing.delete(peer.nodeId);
        } catch (error) {
          const again = this.#failing.has(peer.nodeId);
          this.#failing.add(peer.nodeId);
          this.#options.onError?.(new GossipExchangeFailed(peer.nodeId, peer.address!, again, error));
        }
      }),
    );
  }

  #refreshSelf(): void {
    if (!this.#address) return;
    // Versions come from the clock, so a restarted node still outranks its old records.
    this.#version = Math.max(this.#version + 1, Date.now());
    this.#view.set(this.nodeId, { nodeId: this.nodeId, publicKey: this.#options.identity.publicKey, address: this.#address, status: 'alive', version: this.#version, authority: 'primary' });
    if (!this.#membership) return;
    const self: SelfRecord = { kind: 'self', network: this.#options.network.id, nodeId: this.nodeId, address: this.#address, version: this.#version };
    this.#records.set(this.nodeId, { envelope: this.#withCertificate(sealEnvelope(this.#options.identity.signer, self, { includeKey: true })), version: this.#version });
  }

  #withCertificate(envelope: SignedEnvelope): Certified {
    return { ...envelope, pub: this.#options.identity.publicKey, membership: this.#membership! };
  }

  #digest(): Certified {
    const own = this.#records.get(this.nodeId)!.envelope;
    const others = [...this.#records.values()].map((record) => record.envelope).filter((envelope) => envelope !== own);
    // Our own, then a random sample of the rest when there are too many (a partial shuffle).
    const room = Math.min(this.#options.maxRecords, MAX_DIGEST_RECORDS) - 1;
    for (let i = 0; i < Math.min(room, others.length); i += 1) {
      const j = i + randomInt(others.length - i);
      [others[i], others[j]] = [others[j]!, others[i]!];
    }
    const digest: Digest = { kind: 'gossip', network: this.#options.network.id, from: this.nodeId, ts: Date.now(), nonce: newNonce(), records: [own, ...others.slice(0, room)] };
    return this.#withCertificate(sealEnvelope(this.#options.identity.signer, digest, { includeKey: true }));
  }

  /**
   * Checks a peer's digest (its sender's certificate and signature, freshness, size) and throws if
   * it does not hold; then checks every record in it and merges those that do.
   */
  #receive(body: unknown): void {
    const sender = this.#memberKey(body);
    const digest = openEnvelope<Digest>(body, sender);
    if (digest.kind !== 'gossip' || digest.network !== this.#options.network.id || digest.from !== nodeIdOf(sender)) {
      throw new IdentityRejection('MALFORMED', `not a gossip digest of network ${this.#options.network.id} from the key that signed it`);
    }
    if (!Array.isArray(digest.records) || digest.records.length > MAX_DIGEST_RECORDS) {
      throw new IdentityRejection('MALFORMED', `a gossip digest carries a list of at most ${MAX_DIGEST_RECORDS} records`);
    }
    this.#replays.check(digest.from, digest.ts, digest.nonce, Date.now());
    for (const record of digest.records) {
      try {
        this.#accept(record);
      } catch {
        // A record that does not verify is dropped; the rest of the digest still counts.
      }
    }
    this.#forgetBeyondCap();
  }

  #accept(record: unknown): void {
    const claimed = peekEnvelope<Partial<SelfRecord>>(record);
    if (typeof claimed.nodeId !== 'string' || claimed.nodeId === this.nodeId) return;
    // Nothing newer than what we hold: spare the signature checks.
    const known = this.#records.get(claimed.nodeId);
    if (known && typeof claimed.version === 'number' && known.version >= claimed.version) return;
    const key = this.#memberKey(record);
    const self = openEnvelope<SelfRecord>(record, key);
    if (self.kind !== 'self' || self.network !== this.#options.network.id || self.nodeId !== nodeIdOf(key)) return;
    if (typeof self.version !== 'number' || !Number.isFinite(self.version) || self.version > Date.now() + MAX_CLOCK_SKEW_MS || !isGossipAddress(self.address)) return;
    if (known && known.version >= self.version) return;
    // Kept field by field, so a peer cannot make us pass on anything else.
    const { payload, sig, membership } = record as Certified;
    // The freshest self-record is passed on whatever the view says: others may know the node only through gossip.
    this.#records.set(self.nodeId, { envelope: { payload, sig, pub: key, membership: { payload: membership.payload, sig: membership.sig } }, version: self.version });
    this.#merge({ nodeId: self.nodeId, publicKey: key, address: self.address, status: 'alive', version: self.version, authority: 'latent' });
  }

  /** The key that signed `envelope`, once the network's certificate beside it vouches for that key; throws otherwise. */
  #memberKey(envelope: unknown): string {
    const { pub, membership } = (typeof envelope === 'object' && envelope !== null ? envelope : {}) as Partial<Certified>;
    if (typeof pub !== 'string') throw new IdentityRejection('MALFORMED', 'a gossip message carries its signer’s key (pub)');
    const seen = membership && typeof membership === 'object' ? `${String(membership.payload)}.${String(membership.sig)}` : '';
    if (this.#certified.get(pub) !== seen) {
      verifyMembership(membership, this.#options.network, pub);
      // Bounded: a flood of certified keys costs verification, never memory.
      if (this.#certified.size >= this.#options.maxPeers * 2) this.#certified.clear();
      this.#certified.set(pub, seen);
    }
    return pub;
  }

  /** Keeps the record with the higher authority, then the higher version; drops an address no peer could use, not the node. */
  #merge(record: ViewEntry): void {
    if (record.nodeId === this.nodeId) return;
    const { address, ...incoming } = record;
    const usable = address !== undefined && isGossipAddress(address) ? address : undefined;
    const existing = this.#view.get(incoming.nodeId);
    if (existing && (RANK[existing.authority] > RANK[incoming.authority] || (existing.authority === incoming.authority && existing.version >= incoming.version))) {
      // A lower authority may still fill in an address the higher one did not have.
      if (!existing.address && usable) existing.address = usable;
      return;
    }
    const kept = usable ?? existing?.address;
    this.#view.set(incoming.nodeId, { ...incoming, ...(kept ? { address: kept } : {}) });
    this.#changed.set(incoming.nodeId, (this.#changes += 1));
  }

  /** Past `maxPeers`, forgets the weakest: the lowest authority first, then the entry unchanged the longest. */
  #forgetBeyondCap(): void {
    const excess = this.#view.size - this.#options.maxPeers;
    if (excess <= 0) return;
    const changed = (entry: ViewEntry) => this.#changed.get(entry.nodeId) ?? 0;
    const weakest = [...this.#view.values()]
      .filter((entry) => entry.nodeId !== this.nodeId)
      .sort((a, b) => RANK[a.authority] - RANK[b.authority] || changed(a) - changed(b))
      .slice(0, excess);
    for (const entry of weakest) {
      this.#view.delete(entry.nodeId);
      this.#changed.delete(entry.nodeId);
      this.#failing.delete(entry.nodeId);
      this.#records.delete(entry.nodeId);
      this.#certified.delete(entry.publicKey);
    }
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST' || request.url !== '/gossip') {
      response.writeHead(404).end();
      return;
    }
    if (!this.#membership) {
      // Nothing is taken from a peer before this node can answer it; the unread body closes the connection.
      response
        .writeHead(503, { 'content-type': 'application/json', connection: 'close' })
        .end(JSON.stringify({ error: 'this node has no membership certificate yet: it gossips once it has joined' }));
      return;
    }
    try {
      this.#receive(JSON.parse(await readBody(request)));
      this.#refreshSelf();
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.#digest()));
    } catch (error) {
      this.#options.onError?.(error);
      const tooLarge = error instanceof BodyTooLarge;
      // After a refused body the connection is not reused: what is left of the body is still on it.
      response
        .writeHead(tooLarge ? 413 : 400, { 'content-type': 'application/json', ...(tooLarge ? { connection: 'close' } : {}) })
        .end(JSON.stringify({ error: (error as Error).message }));
    }
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  if (Number(request.headers['content-length'] ?? 0) > MAX_BODY) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** POSTs JSON and parses the JSON answer. Plain node:http(s): fetch would load undici into every agent. */
function postJson(url: string, body: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // node:http refuses an https URL (ERR_INVALID_PROTOCOL): each protocol has its own module.
    const send = new URL(url).protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) request.destroy(new BodyTooLarge());
        else chunks.push(chunk);
      });
      response.on('end', () => {
        if (response.statusCode !== 200) return reject(new Error(`${url} answered ${response.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(error);
        }
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${url} did not answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}
