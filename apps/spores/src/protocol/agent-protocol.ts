import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Counter } from 'prom-client';
import {
  type AgentNotice,
  AgentSubjects,
  type CommandReply,
  CommandRejection,
  ContractViolation,
  HeartbeatV1,
  type JoinAccepted,
  JoinRequestV1,
  LeaveRequestV1,
  type SecurityViolationCode,
  validatePayload,
} from '@mycelium/contracts';
import {
  agentPermissions,
  IdentityRejection,
  issueMembership,
  nodeIdOf,
  openEnvelope,
  peekEnvelope,
  ReplayGuard,
  verifyJoinToken,
} from '@mycelium/identity';
import type { EventStore } from '@mycelium/eventstore';
import { EVENT_STORE, NATS_CONNECTION, SERVICE_LOGGER, SERVICE_METRICS, TOPOLOGY, type Topology } from '@mycelium/messaging';
import type { Logger, ServiceMetrics } from '@mycelium/telemetry';
import { Leadership } from '../leadership/leadership.js';
import { LivenessMonitor } from '../leadership/liveness-monitor.js';
import { networkStateOf, networkStream, tooOld } from '../domain/network/network.js';
import { NodeErrors } from '../domain/node/node.decider.js';
import { NodeCommands } from '../registry/node-commands.js';
import { NodeRegistry } from '../registry/node-registry.js';
import { SPORES_CONFIG, type SporesConfig } from '../spores.config.js';
import { SecurityLog } from './security-log.js';

const encoder = new TextEncoder();
const NODE_ID = /^[0-9a-f]{20}$/;
const INBOX = /^_INBOX(_[A-Za-z0-9]+)?\.[A-Za-z0-9._-]+$/;
const decoder = new TextDecoder();

/** A refusal with the code the agent (and the security log) sees. */
class Refusal extends Error {
  /** The sender, once its signature proved who it is. */
  nodeId: string | undefined;

  constructor(
    readonly code: SecurityViolationCode | 'NOT_A_MEMBER' | 'NO_NETWORK' | 'AGENT_TOO_OLD',
    message: string,
    readonly security = true,
  ) {
    super(message);
  }
}

/**
 * The node agents' side of the spores service: joins, heartbeats and leaves, each a signed message
 * checked for its signature, its timestamp and its nonce before anything else. Refusals are
 * answered with their reason and recorded as security events.
 */
@Injectable()
export class AgentProtocol implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #subscriptions: Subscription[] = [];
  readonly #replays: ReplayGuard;
  readonly #heartbeats: Counter<'outcome'>;
  readonly #joins: Counter<'outcome'>;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(SPORES_CONFIG) private readonly config: SporesConfig,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_METRICS) metrics: ServiceMetrics,
    private readonly registry: NodeRegistry,
    private readonly commands: NodeCommands,
    private readonly security: SecurityLog,
    private readonly leadership: Leadership,
    private readonly liveness: LivenessMonitor,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {
    this.#replays = new ReplayGuard(config.maxClockSkewMs);
    this.#heartbeats = metrics.counter('mycelium_spores_heartbeats_total', 'Heartbeats received, by outcome (accepted or the refusal code).', ['outcome']);
    this.#joins = metrics.counter('mycelium_spores_joins_total', 'Join requests, by outcome (accepted or the refusal code).', ['outcome']);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.registry.ready;
    const subject = (s: string) => this.topology.subject(s);
    // Joins and leaves go to one instance (queue group); every instance hears every heartbeat,
    // so whichever leads knows every node's liveness.
    this.#subscriptions.push(
      this.nc.subscribe(subject(AgentSubjects.join), { queue: 'spores', callback: (_e, msg) => void this.#serve(msg, 'join') }),
      this.nc.subscribe(subject(AgentSubjects.allLeaves), { queue: 'spores', callback: (_e, msg) => void this.#serve(msg, 'leave') }),
      this.nc.subscribe(subject(AgentSubjects.allHeartbeats), { callback: (_e, msg) => void this.#serve(msg, 'heartbeat') }),
    );
    await this.nc.flush();
    this.liveness.startListening();
  }

  async onModuleDestroy(): Promise<void> {
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
  }

  async #serve(msg: Msg, kind: 'join' | 'leave' | 'heartbeat'): Promise<void> {
    try {
      if (kind === 'join') await this.#join(msg);
      else if (kind === 'leave') await this.#leave(msg);
      else await this.#heartbeat(msg);
    } catch (error) {
      this.logger.error({ err: error, subject: msg.subject }, `could not handle an agent ${kind}`);
      if (msg.reply) this.#reply(msg, { ok: false, error: { code: 'INTERNAL', message: 'the spores service failed; try again' } });
    }
  }

  /**
   * Opens a signed message: key known (heartbeat, leave) or carried (join); always fresh and new.
   * A node's own messages come on its own subject: one naming another node is refused before
   * anything in it is believed (on a secured network only the node may publish there).
   */
  #open<T extends object>(msg: Msg, payloadClass: new () => T, publicKeyOf: (nodeId: string, carried?: string) => string | undefined): T & { nodeId: string; ts: number } {
    let envelope: unknown;
    try {
      envelope = JSON.parse(decoder.decode(msg.data));
    } catch {
      throw new Refusal('MALFORMED', 'the message is not JSON');
    }
    const peeked = peekEnvelope<{ nodeId?: unknown }>(envelope);
    const claimed = typeof peeked.nodeId === 'string' ? peeked.nodeId : '';
    const subjectNode = this.#subjectNode(msg);
    if (subjectNode !== undefined && subjectNode !== claimed) {
      throw new Refusal('NODE_ID_MISMATCH', `the message came on the subject of node ${subjectNode} but names another node`);
    }
    const publicKey = publicKeyOf(claimed, peeked.pub);
    if (!publicKey) throw new Refusal('UNKNOWN_NODE', `node ${subjectNode ?? '?'} is not a member: join first`, false);
    const payload = openEnvelope<Record<string, unknown>>(envelope, publicKey);
    try {
      let checked: T & { nodeId: string; ts: number };
      try {
        checked = validatePayload(payloadClass, payload, { forbidUnknown: true }) as T & { nodeId: string; ts: number };
      } catch (error) {
        const violation = error as ContractViolation;
        throw new Refusal('MALFORMED', `${violation.message}${violation.field ? ` (field ${violation.field})` : ''}`);
      }
      if (nodeIdOf(publicKey) !== checked.nodeId) throw new Refusal('NODE_ID_MISMATCH', 'the node id is not the hash of the key that signed the message');
      const network = (payload as { network?: unknown }).network;
      if (this.config.network && network !== this.config.network.info.networkId) {
        // The sender's text is not echoed: it could be anything.
        throw new Refusal('WRONG_NETWORK', `the message is for another network; this is ${this.config.network.info.networkId}`);
      }
      this.#replays.check(checked.nodeId, (payload as { ts?: unknown }).ts, (payload as { nonce?: unknown }).nonce, Date.now());
      return checked;
    } catch (error) {
      const refusal = this.#refusal(error);
      refusal.nodeId = nodeIdOf(publicKey);
      throw refusal;
    }
  }

  /** The node whose own subject (agent.<nodeId>.*) a message came on; undefined for the join subject. */
  #subjectNode(msg: Msg): string | undefined {
    const [prefix, nodeId] = this.topology.unprefixed(msg.subject).split('.');
    return prefix === 'agent' && nodeId !== undefined && NODE_ID.test(nodeId) ? nodeId : undefined;
  }

  async #join(msg: Msg): Promise<void> {
    let request: JoinRequestV1 | undefined;
    const network = this.config.network;
    try {
      if (!network) throw new Refusal('NO_NETWORK', 'this grid has no network yet: its operator runs `myc network init`', false);
      request = this.#open(msg, JoinRequestV1, (_claimed, carried) => carried);
      const member = this.registry.get(request.nodeId);
      const token = request.token ? this.#tokenOf(request.token, member !== undefined) : undefined;
      if (!member && !token) throw new Refusal('NOT_A_MEMBER', 'this node is not a member yet: join with a token (myc node token)', false);
      // Read, not followed: a minimum the nodes just approved holds from the next join on.
      const { minAgentVersion } = networkStateOf(await this.store.readStream(networkStream(network.info.networkId)));
      const old = tooOld(request.capabilities.agentVersion, minAgentVersion);
      if (old) throw new Refusal('AGENT_TOO_OLD', old, false);
      const pub = (JSON.parse(decoder.decode(msg.data)) as { pub: string }).pub;
      const now = new Date().toISOString();
      const state = await this.commands.execute(request.nodeId, {
        type: 'JoinNode',
        data: {
          nodeId: request.nodeId,
          publicKey: pub,
          network: network.info.networkId,
          ...(token ? { token: { id: token.jti, tier: token.tier } } : {}),
          requestedTier: request.requestedTier,
          capabilities: request.capabilities,
          ...(request.gossipAddress ? { gossipAddress: request.gossipAddress } : {}),
          initialTrust: this.config.initialTrust,
          rules: this.config.tierRules,
          signedAt: new Date(request.ts).toISOString(),
          now,
        },
      });
      if (state.status === 'unknown') throw new Error('a join left the node unknown');
      this.liveness.signOfLife(request.nodeId);
      const natsJwt =
        network.nats?.canIssue && request.natsKey
          ? await network.nats.issueUserJwt(`node-${request.nodeId}`, request.natsKey, {
              permissions: agentPermissions(request.nodeId, this.topology.namespace ? `${this.topology.namespace}.` : ''),
            })
          : undefined;
      const accepted: JoinAccepted = {
        nodeId: request.nodeId,
        tier: state.tier,
        status: state.status,
        heartbeatIntervalMs: this.config.heartbeatIntervalMs,
        ...(natsJwt ? { natsJwt } : {}),
        ...(network.signer ? { membership: issueMembership(network.signer, { network: network.info.networkId, publicKey: pub }) } : {}),
        peers: this.registry.peers({ exclude: request.nodeId }).slice(0, 64),
      };
      this.#joins.inc({ outcome: 'accepted' });
      this.#reply(msg, { ok: true, result: accepted });
    } catch (error) {
      const refusal = this.#refusal(error);
      refusal.nodeId ??= request?.nodeId;
      this.#joins.inc({ outcome: refusal.code });
      if (refusal.security) await this.#recordViolation(msg, refusal);
      this.#reply(msg, { ok: false, error: { code: refusal.code, message: refusal.message } });
    }
  }

  async #leave(msg: Msg): Promise<void> {
    let request: LeaveRequestV1 | undefined;
    try {
      request = this.#open(msg, LeaveRequestV1, (claimed) => this.registry.get(claimed)?.node.publicKey);
      await this.commands.execute(request.nodeId, {
        type: 'LeaveGrid',
        data: { reason: request.reason, signedAt: new Date(request.ts).toISOString(), now: new Date().toISOString() },
      });
      this.liveness.forget(request.nodeId);
      this.#reply(msg, { ok: true, result: { left: true } });
    } catch (error) {
      const refusal = this.#refusal(error);
      refusal.nodeId ??= request?.nodeId;
      if (refusal.security) await this.#recordViolation(msg, refusal);
      this.#reply(msg, { ok: false, error: { code: refusal.code, message: refusal.message } });
    }
  }

  async #heartbeat(msg: Msg): Promise<void> {
    try {
      const heartbeat = this.#open(msg, HeartbeatV1, (claimed) => this.registry.get(claimed)?.node.publicKey);
      const entry = this.registry.get(heartbeat.nodeId)!;
      if (entry.node.status === 'left') throw new Refusal('NOT_A_MEMBER', 'this node left the grid: join again', false);
      this.registry.recordUsage(heartbeat.nodeId, heartbeat.usage, Date.now());
      this.liveness.signOfLife(heartbeat.nodeId);
      this.#heartbeats.inc({ outcome: 'accepted' });
    } catch (error) {
      const refusal = this.#refusal(error);
      this.#heartbeats.inc({ outcome: refusal.code });
      // Every instance hears every heartbeat: only the leader records and answers, so a refusal is one event.
      if (!this.leadership.isLeader) return;
      if (refusal.security) await this.#recordViolation(msg, refusal);
      // Guidance, not blame: on an open network anyone could publish on the notice subject anyway.
      const subjectNode = this.#subjectNode(msg);
      if (subjectNode) this.#notify(subjectNode, refusal);
    }
  }

  /** A refused join's token: a member's expired one is ignored (members rejoin without one). */
  #tokenOf(token: string, isMember: boolean): ReturnType<typeof verifyJoinToken> | undefined {
    const network = this.config.network!;
    try {
      return verifyJoinToken(token, { id: network.info.networkId, publicKey: network.info.publicKey }, new Date());
    } catch (error) {
      if (isMember && error instanceof IdentityRejection && error.code === 'EXPIRED_TOKEN') return undefined;
      throw error;
    }
  }

  /**
   * Who a refused message is surely from: on a secured network the subject says it (only the node
   * may publish on its own), anywhere a valid signature does; otherwise nobody known.
   */
  #provenSender(msg: Msg, refusal: Refusal): string | undefined {
    return (this.config.network?.info.nats ? this.#subjectNode(msg) : undefined) ?? refusal.nodeId;
  }

  #recordViolation(msg: Msg, refusal: Refusal): Promise<void> {
    return this.security.record({
      nodeId: this.#provenSender(msg, refusal),
      claimedNodeId: this.#claimedNode(msg),
      subject: msg.subject,
      code: refusal.code as SecurityViolationCode,
      reason: refusal.message,
    });
  }

  #refusal(error: unknown): Refusal {
    if (error instanceof Refusal) return error;
    if (error instanceof IdentityRejection) return new Refusal(error.code, error.message);
    if (error instanceof CommandRejection) return new Refusal(error.code as Refusal['code'], error.message, error.code === NodeErrors.Replay);
    throw error;
  }

  #notify(nodeId: string, refusal: Refusal): void {
    const notice: AgentNotice = {
      code: refusal.code,
      message: refusal.message,
      action: refusal.code === 'STALE_TIMESTAMP' ? 'check-clock' : refusal.code === 'NOT_A_MEMBER' || refusal.code === 'UNKNOWN_NODE' ? 'rejoin' : 'none',
    };
    this.nc.publish(this.topology.subject(AgentSubjects.notice(nodeId)), encoder.encode(JSON.stringify(notice)));
  }

  #claimedNode(msg: Msg): string | undefined {
    try {
      const claimed = peekEnvelope<{ nodeId?: unknown }>(JSON.parse(decoder.decode(msg.data))).nodeId;
      return typeof claimed === 'string' ? claimed : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Answers on the reply subject only when it is an inbox: NATS does not check a reply subject
   * against the sender's permissions, and this service may publish anywhere.
   */
  #reply(msg: Msg, reply: CommandReply): void {
    if (msg.reply && INBOX.test(msg.reply)) msg.respond(encoder.encode(JSON.stringify(reply)));
  }
}
