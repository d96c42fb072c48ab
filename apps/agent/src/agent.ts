import { mkdirSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { connect, credsAuthenticator, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { JoinAccepted, NodeCapabilitiesV1, NodeTierName, NodeUsageV1 } from '@mycelium/contracts';
import { type LogsReply, type WorkloadReport, WorkloadSubjects } from '@mycelium/contracts/workloads';
import { agentInboxPrefix, bootstrapInboxPrefix, credsFor, type JoinTokenClaims, readJoinToken, type SignedEnvelope, verifyMembership } from '@mycelium/identity';
import {
  GossipExchangeFailed,
  GossipNode,
  GridLink,
  heartbeatMessage,
  JoinRefused,
  joinMessage,
  leaveMessage,
  loadOrCreateNodeIdentity,
  networkChangeVote,
  type NodeIdentity,
  readSeedSnapshot,
  type ViewEntry,
} from '@mycelium/node-client';
import type { Logger } from '@mycelium/telemetry/logger';
import { type Membership, readMembership, writeMembership } from './membership.js';
import { measureCapabilities, measureUsage } from './system.js';
import { newestWithin } from './workloads/log-ring.js';
import { ProcessRuntime } from './workloads/process-runtime.js';
import { RoundParticipant, type VoteRule } from './consensus/round-participant.js';
import { parseLogsRequest, parseStartReplica, parseStopReplica } from './workloads/workload-messages.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentOptions {
  dataDir: string;
  /** Join token; a node that joined before rejoins without one. */
  token?: string;
  /** Overrides the NATS servers named by the token or remembered from the last join. */
  natsUrl?: string;
  /** Seed snapshot (file or URL) to boot from when NATS cannot be reached. */
  seed?: string;
  /** How old a seed snapshot may be; default 24 h. */
  seedMaxAgeMs?: number;
  requestedTier: NodeTierName;
  region: string;
  tags: string[];
  cpuCores?: number;
  memoryMiB?: number;
  diskGiB?: number;
  /** Heartbeat interval; default: what the grid asks for when the node joins. */
  heartbeatMs?: number;
  /** The host in the addresses of the replicas this node runs, as the grid reaches them; default 127.0.0.1. */
  workloadHost?: string;
  /** How often the node reports its replicas, besides at every change; default 2000 ms. */
  reportIntervalMs?: number;
  gossipHost: string;
  gossipPort: number;
  /** The gossip address peers are told; default http://gossipHost:gossipPort. */
  gossipAdvertise?: string;
  connectTimeoutMs?: number;
  /** NATS reconnect attempts after a disconnect before the connection is closed for good; default: forever. */
  maxReconnectAttempts?: number;
  reconnectTimeWaitMs?: number;
  /** Waits between rejoin attempts: doubling from `initial` up to `max`, each with jitter. */
  rejoinBackoffMs?: { initial: number; max: number };
  /** Refusals in a row that no retry can turn around (no valid token) before the agent gives up. */
  maxHopelessRejoins?: number;
  /**
   * The agent cannot go on (NATS closed for good, or the grid will not take it back); it has
   * logged why and what to do, and stopped. The process should exit non-zero.
   */
  onFatal?: (error: AgentError) => void;
  /**
   * How the node votes in consensus rounds other than node-liveness, by topic. By default it votes
   * on a minimum agent version by its own (networkChangeVote) and abstains from other topics.
   */
  voteRules?: Record<string, VoteRule>;
}

/** The agent cannot start, or cannot go on: the message says what to do. */
export class AgentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentError';
  }
}

/**
 * Refusals that asking again may turn around: the grid failed, has no network yet, or disagrees
 * with our clock (which NTP may fix). Any other refusal needs a new token or a different node.
 */
const PASSING_REFUSALS = new Set(['INTERNAL', 'NO_NETWORK', 'STALE_TIMESTAMP', 'REPLAY']);
const isHopeless = (error: unknown): error is JoinRefused => error instanceof JoinRefused && !PASSING_REFUSALS.has(error.code);

/**
 * The node agent: joins the grid with its own signed identity, heartbeats with its usage, gossips
 * its peer list, follows NATS through outages, and leaves cleanly when stopped.
 */
export class Agent {
  readonly identity: NodeIdentity;
  #token: string | undefined;
  #claims: JoinTokenClaims | undefined;
  #membership: Membership | undefined;
  #nc: NatsConnection | undefined;
  #credentials: 'node' | 'join token' | 'none' = 'none';
  #link: GridLink | undefined;
  #gossip: GossipNode | undefined;
  #notices: Subscription | undefined;
  readonly #workloads: ProcessRuntime;
  readonly #rounds: RoundParticipant;
  /** The connection the workload subscriptions live on: a new one (traded credentials) needs them anew. */
  #workloadNc: NatsConnection | undefined;
  #workloadSubscriptions: Subscription[] = [];
  #reportTimer: NodeJS.Timeout | undefined;
  #reportQueued = false;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #capabilities: NodeCapabilitiesV1;
  #lastUsage: NodeUsageV1 | undefined;
  #failingMeasures = new Set<string>();
  #seq = 0;
  #connected = false;
  #stopping = false;
  #rejoining: Promise<void> | undefined;
  #wakeFromBackoff: (() => void) | undefined;
  accepted: JoinAccepted | undefined;

  constructor(
    private readonly options: AgentOptions,
    private readonly logger: Logger,
  ) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    this.identity = loadOrCreateNodeIdentity(options.dataDir);
    this.#membership = readMembership(options.dataDir);
    this.#token = options.token;
    this.#claims = options.token ? readJoinToken(options.token) : undefined;
    this.#capabilities = measureCapabilities(options.dataDir, { ...options, agentVersion: AGENT_VERSION });
    this.#workloads = new ProcessRuntime({ dataDir: options.dataDir, host: options.workloadHost ?? '127.0.0.1', logger });
    this.#workloads.onChange(() => this.#queueReport());
    // A minimum agent version this node meets it approves; one that would lock it out it rejects.
    this.#rounds = new RoundParticipant({ identity: this.identity, logger, rules: { 'network-change': networkChangeVote(AGENT_VERSION), ...options.voteRules } });
  }

  get nodeId(): string {
    return this.identity.nodeId;
  }

  get network(): { id: string; publicKey: string } {
    const id = this.#claims?.iss ?? this.#membership?.network;
    const publicKey = this.#claims?.netkey ?? this.#membership?.networkKey;
    if (!id || !publicKey) throw new AgentError(`node ${this.nodeId} has no join token and has never joined: start it with --token (get one with \`myc node token\`)`);
    return { id, publicKey };
  }

  /** Where peers reach this node's gossip, once it listens. */
  get gossipAddress(): string | undefined {
    return this.#gossip?.address || undefined;
  }

  /** The peers this node knows, itself included. */
  peers(): ViewEntry[] {
    return this.#gossip?.view() ?? [];
  }

  get #member(): boolean {
    return this.#membership?.network === this.network.id;
  }

  get #namespace(): string {
    return this.#claims?.nats?.namespace ?? this.#membership?.namespace ?? '';
  }

  #subject = (subject: string) => (this.#namespace ? `${this.#namespace}.${subject}` : subject);

  /**
   * Listens for gossip, connects to NATS and joins. A node that joined before keeps going when the
   * grid does not answer (it gossips, and rejoins once the grid is back); a new node fails at once.
   * Resolves undefined when the agent was stopped meanwhile.
   */
  async start(): Promise<JoinAccepted | undefined> {
    try {
      return await this.#start();
    } catch (error) {
      if (this.#stopping) return undefined;
      throw error;
    }
  }

  async #start(): Promise<JoinAccepted | undefined> {
    const network = this.network;
    if (!this.#member && !this.#usableToken()) {
      throw new AgentError(`node ${this.nodeId} has never joined network ${network.id} and its join token expired: get a new one with \`myc node token\``);
    }
    // Replicas a killed run of the agent left are nobody's now: the grid starts them again where it wants them.
    await this.#workloads.open();
    const certificate = this.#storedCertificate(network);
    this.#gossip = new GossipNode({
      identity: this.identity,
      network,
      ...(certificate ? { membership: certificate } : {}),
      host: this.options.gossipHost,
      port: this.options.gossipPort,
      ...(this.options.gossipAdvertise ? { advertise: this.options.gossipAdvertise } : {}),
      onError: (error) => {
        // A peer that stops answering (or an address it cannot be reached at) is said once; its next failures only at debug.
        if (error instanceof GossipExchangeFailed && !error.again) this.logger.warn({ err: error, peer: error.peer, address: error.address }, 'gossip with a peer failed');
        else this.logger.debug({ err: error }, 'gossip exchange failed');
      },
    });
    await this.#gossip.listen();
    if (this.#stopping) {
      // stop() found nothing listening yet.
      await this.#gossip.stop();
      return undefined;
    }
    const servers = this.options.natsUrl ? [this.options.natsUrl] : (this.#claims?.nats?.servers ?? this.#membership?.natsServers ?? ['nats://127.0.0.1:4222']);
    await this.#connectOrBootFromSeed(servers, network);
    if (this.#stopping) return undefined;
    try {
      const accepted = await this.#join();
      this.#gossip.start();
      return accepted;
    } catch (error) {
      if (isHopeless(error)) throw new AgentError(`the grid refused to let node ${this.nodeId} join: ${error.message} (${error.code})`);
      if (!this.#member || this.#stopping) throw error;
      this.logger.warn({ err: error }, 'the grid does not answer: gossiping with what this node knows, and joining again until it does');
      this.#gossip.start();
      void this.rejoin();
      return undefined;
    }
  }

  /** The certificate kept from the last join, if it is still the network's word for this key. */
  #storedCertificate(network: { id: string; publicKey: string }): SignedEnvelope | undefined {
    const certificate = this.#member ? this.#membership?.certificate : undefined;
    if (!certificate) return undefined;
    try {
      verifyMembership(certificate, network, this.identity.publicKey);
      return certificate;
    } catch (error) {
      this.logger.warn({ err: error }, 'the membership certificate kept in the data dir does not hold: this node gossips again once it has joined');
      return undefined;
    }
  }

  /** NATS from the configured servers; failing that, the servers the signed seed snapshot names. */
  async #connectOrBootFromSeed(servers: string[], network: { id: string; publicKey: string }): Promise<void> {
    try {
      await this.#connect(servers);
    } catch (error) {
      if (this.#stopping) throw error;
      if (!this.options.seed) throw new AgentError(`cannot reach NATS at ${servers.join(', ')} (${(error as Error).message}), and no seed snapshot is configured (--seed)`);
      this.logger.warn({ servers, seed: this.options.seed }, 'NATS is unreachable: booting from the seed snapshot');
      const snapshot = await readSeedSnapshot(this.options.seed, network, { ...(this.options.seedMaxAgeMs !== undefined ? { maxAgeMs: this.options.seedMaxAgeMs } : {}) }).catch(
        (seedError: unknown) => {
          throw new AgentError((seedError as Error).message);
        },
      );
      this.#gossip!.learn(snapshot.nodes, 'seed');
      try {
        await this.#connect(snapshot.natsServers);
      } catch (seedError) {
        throw new AgentError(`cannot reach NATS at ${servers.join(', ')} nor at the seed snapshot's ${snapshot.natsServers.join(', ')}: ${(seedError as Error).message}`);
      }
    }
  }

  /** Connects with the node's own credentials, or the token's, or none (open networks); the new connection becomes the agent's. */
  async #connect(servers: string[]): Promise<NatsConnection> {
    const natsJwt = this.#member ? this.#membership?.natsJwt : undefined;
    const auth = natsJwt
      ? { authenticator: credsAuthenticator(new TextEncoder().encode(credsFor(natsJwt, this.identity.nats.seed))), inboxPrefix: agentInboxPrefix(this.nodeId) }
      : this.#claims?.nats?.creds
        ? { authenticator: credsAuthenticator(new TextEncoder().encode(this.#claims.nats.creds)), inboxPrefix: bootstrapInboxPrefix(this.#claims.jti) }
        : {};
    const nc = await connect({
      servers,
      name: `agent-${this.nodeId}`,
      timeout: this.options.connectTimeoutMs ?? 5000,
      maxReconnectAttempts: this.options.maxReconnectAttempts ?? -1,
      reconnectTimeWait: this.options.reconnectTimeWaitMs ?? 500,
      ...auth,
    });
    if (this.#stopping) {
      await nc.close().catch(() => undefined);
      throw new AgentError('the agent stopped');
    }
    this.#nc = nc;
    this.#credentials = natsJwt ? 'node' : auth.authenticator ? 'join token' : 'none';
    this.#connected = true;
    this.#link = new GridLink(nc, this.#subject);
    void this.#watch(nc);
    void nc.closed().then((error) => {
      // Closed by us (stopping, or trading the token's credentials for our own) is no news.
      if (this.#stopping || nc !== this.#nc) return;
      this.#fail(
        `the NATS connection closed for good${error ? ` (${error.message})` : ''}: if its credentials were revoked this node needs a new join token (\`myc node token\`), otherwise restart the agent once NATS is reachable`,
        error,
      );
    });
    this.logger.info({ server: nc.getServer(), credentials: this.#credentials }, 'connected to NATS');
    return nc;
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      // A connection we traded for another says nothing about the current one.
      if (nc !== this.#nc) continue;
      if (status.type === 'disconnect') {
        this.#connected = false;
        this.logger.warn('lost NATS; heartbeats pause until it is back');
      } else if (status.type === 'reconnect') {
        this.#connected = true;
        this.logger.info('NATS is back');
        // Tell the grid at once rather than at the next tick: it may be deciding we are down.
        this.#heartbeat();
      } else if (status.type === 'error') {
        this.logger.warn({ err: status.error }, 'NATS reports an error');
      }
    }
  }

  /** The join token, unless it has expired: then it is dropped, and the log says so. */
  #usableToken(): string | undefined {
    if (this.#token && this.#claims && this.#claims.exp * 1000 <= Date.now()) {
      this.logger.warn(
        { expiredAt: new Date(this.#claims.exp * 1000).toISOString() },
        'the join token has expired and is dropped: this node rejoins as a member without it; should the grid have forgotten it, it needs a new one (`myc node token`)',
      );
      this.#token = undefined;
    }
    return this.#token;
  }

  /**
   * One join. A member of a secured grid proves itself with its own NATS credentials and keeps its
   * token home; should the grid not know it (NOT_A_MEMBER), it asks once more with the token.
   * Resolves undefined when the agent is stopped meanwhile.
   */
  async #join(): Promise<JoinAccepted | undefined> {
    const network = this.network;
    const token = this.#usableToken();
    const withToken = token !== undefined && (!this.#member || !this.#membership?.natsJwt);
    let accepted: JoinAccepted;
    try {
      accepted = await this.#link!.join(this.#joinMessage(network, withToken ? token : undefined));
    } catch (error) {
      const retryWithToken = error instanceof JoinRefused && error.code === 'NOT_A_MEMBER' && !withToken && this.#usableToken() !== undefined;
      if (!retryWithToken || this.#stopping) throw error;
      this.logger.warn({ nodeId: this.nodeId }, 'the grid does not know this node: asking again with the join token');
      accepted = await this.#link!.join(this.#joinMessage(network, this.#token));
    }
    if (this.#stopping) return undefined;
    this.accepted = accepted;
    const servers = this.#nc!.getServer() ? [this.options.natsUrl ?? `nats://${this.#nc!.getServer()}`] : [];
    const certificate = this.#certify(accepted.membership);
    this.#membership = {
      network: network.id,
      networkKey: network.publicKey,
      natsServers: this.#claims?.nats?.servers ?? this.#membership?.natsServers ?? servers,
      namespace: this.#namespace,
      ...(accepted.natsJwt ? { natsJwt: accepted.natsJwt } : this.#membership?.natsJwt ? { natsJwt: this.#membership.natsJwt } : {}),
      ...(certificate ? { certificate } : {}),
      tier: accepted.tier,
      joinedAt: this.#membership?.joinedAt ?? new Date().toISOString(),
    };
    writeMembership(this.options.dataDir, this.#membership);
    this.#gossip!.learn(accepted.peers, 'primary');
    this.logger.info({ nodeId: this.nodeId, tier: accepted.tier, status: accepted.status }, 'joined the grid');
    if (accepted.natsJwt && this.#credentials !== 'node') {
      // The token's credentials only let us ask to join; our own take over from here.
      const old = this.#nc!;
      await this.#connect(old.getServer() ? [`nats://${old.getServer()}`] : this.#membership.natsServers);
      await old.close();
      if (this.#stopping) return undefined;
    }
    this.#notices?.unsubscribe();
    this.#notices = this.#link!.onNotice(this.nodeId, (notice) => {
      this.logger.warn({ code: notice.code, action: notice.action }, notice.message);
      if (notice.action === 'rejoin') void this.rejoin();
    });
    clearInterval(this.#heartbeatTimer);
    // The join reached one spores instance, maybe not the one judging liveness: every instance hears a heartbeat.
    this.#heartbeat();
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), this.options.heartbeatMs ?? accepted.heartbeatIntervalMs);
    this.#listenForWorkloads();
    this.#rounds.listen(this.#nc!, this.#subject);
    // The join is done once the server holds our subscriptions: a start sent right after is not lost.
    await this.#nc!.flush().catch((error: unknown) => this.logger.debug({ err: error }, 'could not flush the subscriptions'));
    clearInterval(this.#reportTimer);
    this.#publishReport();
    this.#reportTimer = setInterval(() => this.#publishReport(), this.options.reportIntervalMs ?? 2000);
    return accepted;
  }

  /** Starts, stops and log requests for this node's replicas, on the connection the agent now holds. */
  #listenForWorkloads(): void {
    const nc = this.#nc!;
    if (this.#workloadNc === nc) return;
    for (const subscription of this.#workloadSubscriptions) subscription.unsubscribe();
    this.#workloadNc = nc;
    const on = (subject: string, handle: (msg: Msg, body: unknown) => void) =>
      nc.subscribe(this.#subject(subject), {
        callback: (error, msg) => {
          if (error) {
            this.logger.warn({ err: error, subject }, 'a workload subscription failed');
            return;
          }
          // Whatever arrives, the agent goes on: a bad message is logged and dropped.
          try {
            let body: unknown;
            try {
              body = msg.json();
            } catch {
              this.logger.warn({ subject: msg.subject }, 'ignored a workload message that is not JSON');
              if (msg.reply) msg.respond(JSON.stringify({ ok: false, error: { code: 'MALFORMED_MESSAGE', message: 'the request is not JSON' } } satisfies LogsReply));
              return;
            }
            handle(msg, body);
          } catch (handlerError) {
            this.logger.error({ err: handlerError, subject: msg.subject }, 'a workload message could not be handled');
          }
        },
      });
    this.#workloadSubscriptions = [
      on(WorkloadSubjects.start(this.nodeId), (_msg, body) => {
        const parsed = parseStartReplica(body);
        if (!parsed.ok) {
          this.logger.warn({ field: parsed.field }, `ignored a malformed replica start: ${parsed.message}`);
          return;
        }
        if (!this.#workloads.start(parsed.value)) this.logger.debug({ replicaId: parsed.value.replicaId }, 'the replica runs already');
      }),
      on(WorkloadSubjects.stop(this.nodeId), (_msg, body) => {
        const parsed = parseStopReplica(body);
        if (!parsed.ok) {
          this.logger.warn({ field: parsed.field }, `ignored a malformed replica stop: ${parsed.message}`);
          return;
        }
        void this.#workloads.stop(parsed.value.replicaId, parsed.value.reason).catch((error: unknown) => this.logger.error({ err: error, replicaId: parsed.value.replicaId }, 'could not stop a replica'));
      }),
      on(WorkloadSubjects.logs(this.nodeId), (msg, body) => {
        if (!msg.reply) return;
        msg.respond(JSON.stringify(this.#logsReply(body, nc.info?.max_payload ?? 1024 * 1024)));
      }),
    ];
  }

  #logsReply(body: unknown, maxPayload: number): LogsReply {
    const parsed = parseLogsRequest(body);
    if (!parsed.ok) return { ok: false, error: { code: 'VALIDATION_FAILED', message: parsed.message } };
    const { replicaId, tail } = parsed.value;
    const lines = this.#workloads.logs(replicaId, tail);
    if (!lines) return { ok: false, error: { code: 'NOT_FOUND', message: `node ${this.nodeId} runs no replica ${replicaId} (or stopped it over a minute ago)` } };
    // Room for the envelope around the lines.
    return { ok: true, replicaId, lines: newestWithin(lines, maxPayload - 1024) };
  }

  /** Reports once for all the changes made in one go. */
  #queueReport(): void {
    if (this.#reportQueued) return;
    this.#reportQueued = true;
    queueMicrotask(() => this.#publishReport());
  }

  #publishReport(): void {
    this.#reportQueued = false;
    const nc = this.#nc;
    // Before the node joined with its own credentials it may not publish on its subjects.
    if (!nc || nc !== this.#workloadNc || !this.#connected || nc.isClosed()) return;
    const report: WorkloadReport = { nodeId: this.nodeId, at: Date.now(), replicas: this.#workloads.report() };
    try {
      nc.publish(this.#subject(WorkloadSubjects.report(this.nodeId)), JSON.stringify(report));
    } catch (error) {
      this.logger.warn({ err: error }, 'could not publish the workload report');
    }
  }

  #joinMessage(network: { id: string }, token: string | undefined): SignedEnvelope {
    return joinMessage(this.identity, {
      network: network.id,
      ...(token ? { token } : {}),
      requestedTier: this.options.requestedTier,
      capabilities: this.#capabilities,
      gossipAddress: this.#gossip!.address,
      withNatsKey: Boolean(this.#claims?.nats?.creds || this.#membership?.natsJwt),
    });
  }

  /** Hands the join's certificate to gossip; the one kept from before when the grid sent none (or a bad one). */
  #certify(certificate: SignedEnvelope | undefined): SignedEnvelope | undefined {
    const kept = this.#member ? this.#membership?.certificate : undefined;
    if (!certificate) {
      if (!kept) this.logger.warn('the grid sent no membership certificate (its spores service has no network key): peers will not take this node’s gossip');
      return kept;
    }
    try {
      this.#gossip!.certify(certificate);
      return { payload: certificate.payload, sig: certificate.sig };
    } catch (error) {
      this.logger.warn({ err: error }, 'the membership certificate the grid sent does not hold: gossip goes on with the one kept before, if any');
      return kept;
    }
  }

  /**
   * Joins again, one attempt at a time however many notices ask for it, waiting longer after each
   * failure. Timeouts and an absent grid are retried for as long as it takes; refusals that only a
   * new token could turn around end the agent after `maxHopelessRejoins` in a row.
   */
  rejoin(): Promise<void> {
    if (this.#stopping || !this.#link) return Promise.resolve();
    this.#rejoining ??= this.#rejoinUntilDone().finally(() => {
      this.#rejoining = undefined;
    });
    return this.#rejoining;
  }

  async #rejoinUntilDone(): Promise<void> {
    const maxHopeless = this.options.maxHopelessRejoins ?? 5;
    let hopeless = 0;
    for (let attempt = 0; !this.#stopping; attempt += 1) {
      try {
        await this.#join();
        return;
      } catch (error) {
        if (this.#stopping) return;
        // Only refusals in a row count: a timeout between two says nothing about the token.
        hopeless = isHopeless(error) ? hopeless + 1 : 0;
        if (isHopeless(error) && hopeless >= maxHopeless) {
          this.#fail(
            `the grid refused to let node ${this.nodeId} rejoin ${hopeless} times in a row: ${error.message} (${error.code}). Get a new join token with \`myc node token\` and restart the agent with --token <token> or MYCELIUM_JOIN_TOKEN`,
            error,
          );
          return;
        }
        const waitMs = this.#backoff(attempt);
        this.logger.warn({ err: error, attempt: attempt + 1, retryInMs: waitMs }, 'could not rejoin the grid: trying again');
        await this.#pause(waitMs);
      }
    }
  }

  /** Exponential, capped, with jitter: nodes that lost the grid together do not come back in step. */
  #backoff(attempt: number): number {
    const { initial, max } = this.options.rejoinBackoffMs ?? { initial: 1000, max: 60_000 };
    const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
    return Math.ceil(ceiling / 2) + randomInt(Math.max(1, Math.ceil(ceiling / 2)));
  }

  /** Waits `ms`, or less when the agent stops. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => wake(), ms);
      const wake = () => {
        clearTimeout(timer);
        this.#wakeFromBackoff = undefined;
        resolve();
      };
      this.#wakeFromBackoff = wake;
    });
  }

  #heartbeat(): void {
    // While NATS is away a heartbeat would only queue up and arrive stale.
    if (!this.#connected || !this.#link || this.#stopping) return;
    try {
      this.#seq += 1;
      this.#link.heartbeat(this.nodeId, heartbeatMessage(this.identity, { network: this.network.id, seq: this.#seq, usage: this.#usage() }));
    } catch (error) {
      // The next tick tries again: a heartbeat that fails must not end the heartbeats.
      this.logger.warn({ err: error }, 'could not send a heartbeat');
    }
  }

  /** What is free; a measure that fails is reported once when it starts failing and once when it works again. */
  #usage(): NodeUsageV1 {
    const { usage, failed } = measureUsage(this.options.dataDir, this.#capabilities, this.#lastUsage);
    this.#lastUsage = usage;
    const failing = new Set(failed.map(({ measure }) => measure));
    for (const { measure, error } of failed) {
      if (!this.#failingMeasures.has(measure)) this.logger.warn({ err: error, measure, sent: usage[measure] }, `cannot measure ${measure}: heartbeats carry its last known value until it can`);
    }
    for (const measure of this.#failingMeasures) if (!failing.has(measure as keyof NodeUsageV1)) this.logger.info({ measure }, `${measure} is measured again`);
    this.#failingMeasures = failing;
    return usage;
  }

  /** The agent cannot go on: says why, stops everything (no leave: the grid is out of reach or will not have us), and tells the owner. */
  #fail(message: string, error?: unknown): void {
    if (this.#stopping) return;
    this.logger.fatal({ err: error, nodeId: this.nodeId }, message);
    void this.#halt().finally(() => this.options.onFatal?.(new AgentError(message)));
  }

  /** Stops its replicas, leaves the grid (told, not just gone), then stops gossiping and closes NATS. */
  async stop(reason = 'stopped'): Promise<void> {
    if (this.#stopping) return;
    const leave = this.#link && this.#connected && this.accepted;
    const link = this.#link;
    await this.#halt(async () => {
      if (!leave || !link) return;
      await link
        .leave(this.nodeId, leaveMessage(this.identity, { network: this.network.id, reason }), 2000)
        .then(() => this.logger.info({ nodeId: this.nodeId }, 'left the grid'))
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not tell the grid it is leaving'));
    });
  }

  async #halt(beforeClosing?: () => Promise<void>): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#reportTimer);
    this.#rounds.stop();
    this.#wakeFromBackoff?.();
    // Replicas stop before the node leaves, and the grid hears how they ended.
    await this.#workloads.close();
    this.#publishReport();
    await beforeClosing?.();
    this.#notices?.unsubscribe();
    for (const subscription of this.#workloadSubscriptions) subscription.unsubscribe();
    await this.#gossip?.stop();
    await this.#nc?.close().catch(() => undefined);
  }
}
