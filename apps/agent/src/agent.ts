import { mkdirSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { JoinAccepted, NodeCapabilitiesV1, NodeTierName } from '@mycelium/contracts';
import { agentInboxPrefix, bootstrapInboxPrefix, credsFor, type JoinTokenClaims, readJoinToken } from '@mycelium/identity';
import {
  GossipNode,
  GridLink,
  heartbeatMessage,
  JoinRefused,
  joinMessage,
  leaveMessage,
  loadOrCreateNodeIdentity,
  type NodeIdentity,
  readSeedSnapshot,
} from '@mycelium/node-client';
import type { Logger } from '@mycelium/telemetry/logger';
import { type Membership, readMembership, writeMembership } from './membership.js';
import { measureCapabilities, measureUsage } from './system.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentOptions {
  dataDir: string;
  /** Join token; a node that joined before rejoins without one. */
  token?: string;
  /** Overrides the NATS servers named by the token or remembered from the last join. */
  natsUrl?: string;
  /** Seed snapshot (file or URL) to boot from when NATS cannot be reached. */
  seed?: string;
  requestedTier: NodeTierName;
  region: string;
  tags: string[];
  cpuCores?: number;
  memoryMiB?: number;
  diskGiB?: number;
  /** Heartbeat interval; default: what the grid asks for when the node joins. */
  heartbeatMs?: number;
  gossipHost: string;
  gossipPort: number;
  connectTimeoutMs?: number;
}

/** The agent cannot start: the message says what to do. */
export class AgentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentError';
  }
}

/**
 * The node agent: joins the grid with its own signed identity, heartbeats with its usage, gossips
 * its peer list, follows NATS through outages, and leaves cleanly when stopped.
 */
export class Agent {
  readonly identity: NodeIdentity;
  #claims: JoinTokenClaims | undefined;
  #membership: Membership | undefined;
  #nc: NatsConnection | undefined;
  #link: GridLink | undefined;
  #gossip: GossipNode | undefined;
  #notices: Subscription | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #capabilities: NodeCapabilitiesV1;
  #seq = 0;
  #connected = false;
  #stopping = false;
  accepted: JoinAccepted | undefined;

  constructor(
    private readonly options: AgentOptions,
    private readonly logger: Logger,
  ) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    this.identity = loadOrCreateNodeIdentity(options.dataDir);
    this.#membership = readMembership(options.dataDir);
    this.#claims = options.token ? readJoinToken(options.token) : undefined;
    this.#capabilities = measureCapabilities(options.dataDir, { ...options, agentVersion: AGENT_VERSION });
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

  get #namespace(): string {
    return this.#claims?.nats?.namespace ?? this.#membership?.namespace ?? '';
  }

  #subject = (subject: string) => (this.#namespace ? `${this.#namespace}.${subject}` : subject);

  async start(): Promise<JoinAccepted> {
    const network = this.network;
    this.#gossip = new GossipNode({
      identity: this.identity,
      network: network.id,
      host: this.options.gossipHost,
      port: this.options.gossipPort,
      onError: (error) => this.logger.debug({ err: error }, 'gossip exchange failed'),
    });
    const gossipAddress = await this.#gossip.listen();
    const servers = this.options.natsUrl ? [this.options.natsUrl] : (this.#claims?.nats?.servers ?? this.#membership?.natsServers ?? ['nats://127.0.0.1:4222']);
    this.#nc = await this.#connectOrBootFromSeed(servers, network);
    const accepted = await this.#join(gossipAddress);
    this.#gossip.start();
    return accepted;
  }

  /** NATS from the configured servers; failing that, the servers the signed seed snapshot names. */
  async #connectOrBootFromSeed(servers: string[], network: { id: string; publicKey: string }): Promise<NatsConnection> {
    try {
      return await this.#connect(servers);
    } catch (error) {
      if (!this.options.seed) throw new AgentError(`cannot reach NATS at ${servers.join(', ')} (${(error as Error).message}), and no seed snapshot is configured (--seed)`);
      this.logger.warn({ servers, seed: this.options.seed }, 'NATS is unreachable: booting from the seed snapshot');
      const snapshot = await readSeedSnapshot(this.options.seed, network).catch((seedError: unknown) => {
        throw new AgentError((seedError as Error).message);
      });
      this.#gossip!.learn(snapshot.nodes, 'seed');
      try {
        return await this.#connect(snapshot.natsServers);
      } catch (seedError) {
        throw new AgentError(`cannot reach NATS at ${servers.join(', ')} nor at the seed snapshot's ${snapshot.natsServers.join(', ')}: ${(seedError as Error).message}`);
      }
    }
  }

  /** Connects with the node's own credentials, or the token's, or none (open networks). */
  async #connect(servers: string[]): Promise<NatsConnection> {
    const natsJwt = this.#membership?.network === this.network.id ? this.#membership.natsJwt : undefined;
    const auth = natsJwt
      ? { authenticator: credsAuthenticator(new TextEncoder().encode(credsFor(natsJwt, this.identity.nats.seed))), inboxPrefix: agentInboxPrefix(this.nodeId) }
      : this.#claims?.nats?.creds
        ? { authenticator: credsAuthenticator(new TextEncoder().encode(this.#claims.nats.creds)), inboxPrefix: bootstrapInboxPrefix(this.#claims.jti) }
        : {};
    const nc = await connect({
      servers,
      name: `agent-${this.nodeId}`,
      timeout: this.options.connectTimeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...auth,
    });
    this.#connected = true;
    this.#link = new GridLink(nc, this.#subject);
    void this.#watch(nc);
    this.logger.info({ server: nc.getServer(), credentials: natsJwt ? 'node' : auth.authenticator ? 'join token' : 'none' }, 'connected to NATS');
    return nc;
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
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

  async #join(gossipAddress: string): Promise<JoinAccepted> {
    const network = this.network;
    const member = this.#membership?.network === network.id;
    let accepted: JoinAccepted;
    try {
      accepted = await this.#link!.join(
        joinMessage(this.identity, {
          network: network.id,
          ...(this.options.token && (!member || !this.#membership?.natsJwt) ? { token: this.options.token } : {}),
          requestedTier: this.options.requestedTier,
          capabilities: this.#capabilities,
          gossipAddress,
          withNatsKey: Boolean(this.#claims?.nats?.creds || this.#membership?.natsJwt),
        }),
      );
    } catch (error) {
      if (error instanceof JoinRefused) throw new AgentError(`the grid refused to let node ${this.nodeId} join: ${error.message} (${error.code})`);
      throw error;
    }
    this.accepted = accepted;
    const servers = this.#nc!.getServer() ? [this.options.natsUrl ?? `nats://${this.#nc!.getServer()}`] : [];
    this.#membership = {
      network: network.id,
      networkKey: network.publicKey,
      natsServers: this.#claims?.nats?.servers ?? this.#membership?.natsServers ?? servers,
      namespace: this.#namespace,
      ...(accepted.natsJwt ? { natsJwt: accepted.natsJwt } : this.#membership?.natsJwt ? { natsJwt: this.#membership.natsJwt } : {}),
      tier: accepted.tier,
      joinedAt: this.#membership?.joinedAt ?? new Date().toISOString(),
    };
    writeMembership(this.options.dataDir, this.#membership);
    this.#gossip!.learn(accepted.peers, 'primary');
    this.logger.info({ nodeId: this.nodeId, tier: accepted.tier, status: accepted.status }, 'joined the grid');
    if (accepted.natsJwt && !member) {
      // The token's credentials only let us ask to join; our own take over from here.
      const old = this.#nc!;
      this.#nc = await this.#connect(old.getServer() ? [`nats://${old.getServer()}`] : this.#membership.natsServers);
      await old.close();
    }
    this.#notices?.unsubscribe();
    this.#notices = this.#link!.onNotice(this.nodeId, (notice) => {
      this.logger.warn({ code: notice.code, action: notice.action }, notice.message);
      if (notice.action === 'rejoin' && !this.#stopping) void this.#join(gossipAddress).catch((error: unknown) => this.logger.error({ err: error }, 'rejoin failed'));
    });
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), this.options.heartbeatMs ?? accepted.heartbeatIntervalMs);
    return accepted;
  }

  #heartbeat(): void {
    // While NATS is away a heartbeat would only queue up and arrive stale.
    if (!this.#connected || !this.#link || this.#stopping) return;
    this.#seq += 1;
    this.#link.heartbeat(this.nodeId, heartbeatMessage(this.identity, { network: this.network.id, seq: this.#seq, usage: measureUsage(this.options.dataDir, this.#capabilities) }));
  }

  /** Leaves the grid (told, not just gone), then stops gossiping and closes NATS. */
  async stop(reason = 'stopped'): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#heartbeatTimer);
    if (this.#link && this.#connected && this.accepted) {
      await this.#link
        .leave(this.nodeId, leaveMessage(this.identity, { network: this.network.id, reason }), 2000)
        .then(() => this.logger.info({ nodeId: this.nodeId }, 'left the grid'))
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not tell the grid it is leaving'));
    }
    this.#notices?.unsubscribe();
    await this.#gossip?.stop();
    await this.#nc?.close().catch(() => undefined);
  }
}
