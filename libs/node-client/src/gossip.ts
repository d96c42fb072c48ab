import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PeerRecord } from '@mycelium/contracts';
import { newNonce, nodeIdOf, openEnvelope, peekEnvelope, ReplayGuard, sealEnvelope, type SignedEnvelope } from '@mycelium/identity';
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
  /** Grows every round: the freshest record of a node wins among gossip. */
  version: number;
}

/** What two nodes exchange: the sender's signed digest of the records it knows. */
interface Digest {
  kind: 'gossip';
  network: string;
  from: string;
  ts: number;
  nonce: string;
  records: SignedEnvelope[];
}

export interface GossipOptions {
  identity: NodeIdentity;
  network: string;
  /** Interface to listen on; the address others reach is http://host:port. */
  host?: string;
  port?: number;
  /** Peers asked per round. */
  fanout?: number;
  intervalMs?: number;
  /** Records sent per exchange, at most. */
  maxRecords?: number;
  onError?: (error: unknown) => void;
}

const MAX_BODY = 512 * 1024;

/**
 * The latent spore: nodes swap the signed records of the peers they know with a few random peers
 * over HTTP, so the directory survives without NATS. Each record is signed by the node it is about
 * and each exchange by its sender. Where the registry (primary) or the seed snapshot disagree with
 * gossip, the higher authority wins; within one authority, the higher version.
 */
export class GossipNode {
  readonly #view = new Map<string, ViewEntry>();
  readonly #records = new Map<string, SignedEnvelope>();
  readonly #replays = new ReplayGuard(60_000);
  readonly #options: Required<Omit<GossipOptions, 'onError' | 'port'>> & Pick<GossipOptions, 'onError' | 'port'>;
  #server: Server | undefined;
  #timer: NodeJS.Timeout | undefined;
  #address = '';
  #version = 0;
  #rounds = 0;

  constructor(options: GossipOptions) {
    this.#options = { host: '127.0.0.1', fanout: 3, intervalMs: 1000, maxRecords: 256, ...options };
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

  /** Starts serving exchanges; returns the address peers reach this node at. */
  async listen(): Promise<string> {
    const server = createServer((request, response) => void this.#handle(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port ?? 0, this.#options.host, () => resolve());
    });
    this.#server = server;
    this.#address = `http://${this.#options.host}:${(server.address() as AddressInfo).port}`;
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
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#server?.closeAllConnections();
  }

  /** Records from a higher authority: the registry (join replies) or a seed snapshot. */
  learn(records: PeerRecord[], authority: Exclude<Authority, 'latent'>): void {
    for (const record of records) this.#merge({ ...record, authority });
  }

  /** Everyone this node knows, itself included. */
  view(): ViewEntry[] {
    return [...this.#view.values()];
  }

  /** One exchange with up to `fanout` random peers that have an address. */
  async round(): Promise<void> {
    this.#rounds += 1;
    this.#refreshSelf();
    const candidates = [...this.#view.values()].filter((entry) => entry.nodeId !== this.nodeId && entry.address && entry.status !== 'left');
    const chosen: ViewEntry[] = [];
    while (chosen.length < this.#options.fanout && candidates.length > 0) chosen.push(candidates.splice(randomInt(candidates.length), 1)[0]!);
    await Promise.allSettled(
      chosen.map(async (peer) => {
        const answer = await postJson(`${peer.address}/gossip`, JSON.stringify(this.#digest()), Math.max(500, this.#options.intervalMs));
        this.#receive(answer);
      }),
    );
  }

  #refreshSelf(): void {
    if (!this.#address) return;
    // Versions come from the clock, so a restarted node still outranks its old records.
    this.#version = Math.max(this.#version + 1, Date.now());
    const self: SelfRecord = { kind: 'self', network: this.#options.network, nodeId: this.nodeId, address: this.#address, version: this.#version };
    const envelope = sealEnvelope(this.#options.identity.signer, self, { includeKey: true });
    this.#records.set(this.nodeId, envelope);
    this.#view.set(this.nodeId, { nodeId: this.nodeId, publicKey: this.#options.identity.publicKey, address: this.#address, status: 'alive', version: this.#version, authority: 'primary' });
  }

  #digest(): SignedEnvelope {
    const records = [...this.#records.values()];
    // Always our own, then a random sample of the rest when there are too many.
    const sample = records.length <= this.#options.maxRecords ? records : [this.#records.get(this.nodeId)!, ...records.filter(() => randomInt(records.length) < this.#options.maxRecords)];
    const digest: Digest = { kind: 'gossip', network: this.#options.network, from: this.nodeId, ts: Date.now(), nonce: newNonce(), records: sample };
    return sealEnvelope(this.#options.identity.signer, digest, { includeKey: true });
  }

  /** Checks a peer's digest (its signature, freshness) and every record in it; merges what holds. */
  #receive(body: unknown): void {
    const envelope = body as SignedEnvelope;
    const { pub } = peekEnvelope(envelope);
    if (!pub) return;
    const digest = openEnvelope<Digest>(envelope, pub);
    if (digest.kind !== 'gossip' || digest.network !== this.#options.network || digest.from !== nodeIdOf(pub)) return;
    this.#replays.check(digest.from, digest.ts, digest.nonce, Date.now());
    for (const record of Array.isArray(digest.records) ? digest.records.slice(0, this.#options.maxRecords * 2) : []) {
      try {
        const recordKey = peekEnvelope(record).pub;
        if (!recordKey) continue;
        const self = openEnvelope<SelfRecord>(record, recordKey);
        if (self.kind !== 'self' || self.network !== this.#options.network || self.nodeId !== nodeIdOf(recordKey) || self.nodeId === this.nodeId) continue;
        // The freshest self-record is passed on whatever the view says: others may know the
        // node only through gossip.
        const known = this.#records.get(self.nodeId);
        if (!known || (peekEnvelope<SelfRecord>(known).version ?? 0) < self.version) this.#records.set(self.nodeId, record);
        this.#merge({ nodeId: self.nodeId, publicKey: recordKey, address: self.address, status: 'alive', version: self.version, authority: 'latent' });
      } catch {
        // A record that does not verify is dropped; the rest of the digest still counts.
      }
    }
  }

  /** Keeps the record with the higher authority, then the higher version. Returns whether it changed. */
  #merge(incoming: ViewEntry): boolean {
    const existing = this.#view.get(incoming.nodeId);
    if (incoming.nodeId === this.nodeId) return false;
    if (existing && (RANK[existing.authority] > RANK[incoming.authority] || (existing.authority === incoming.authority && existing.version >= incoming.version))) {
      // A lower authority may still fill in an address the higher one did not have.
      if (!existing.address && incoming.address) existing.address = incoming.address;
      return false;
    }
    this.#view.set(incoming.nodeId, { ...incoming, address: incoming.address ?? existing?.address });
    return true;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST' || request.url !== '/gossip') {
      response.writeHead(404).end();
      return;
    }
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY) throw new Error('digest too large');
        chunks.push(chunk as Buffer);
      }
      this.#receive(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      this.#refreshSelf();
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.#digest()));
    } catch (error) {
      this.#options.onError?.(error);
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (error as Error).message }));
    }
  }
}

/** POSTs JSON and parses the JSON answer. Plain node:http: fetch would load undici into every agent. */
function postJson(url: string, body: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) request.destroy(new Error('answer too large'));
        else chunks.push(chunk);
      });
      response.on('end', () => {
        if (response.statusCode !== 200) return reject(new Error(`${url} answered ${response.statusCode}`));
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
