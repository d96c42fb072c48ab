import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  COMMITMENT,
  CommandRejection,
  type CommitMessage,
  ConsensusSubjects,
  GetNode,
  MAX_SALT_LENGTH,
  MIN_SALT_LENGTH,
  type RevealMessage,
} from '@mycelium/contracts';
import { type EventStore, handleCommands } from '@mycelium/eventstore';
import { IdentityRejection, openEnvelope, peekEnvelope } from '@mycelium/identity';
import { COMMAND_CLIENT, type CommandClient, EVENT_STORE, NATS_CONNECTION, SERVICE_LOGGER, TOPOLOGY, type Topology } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { allRevealed, RoundCloser } from '../closer/round-closer.js';
import { roundStream } from '../directory/consensus-directory.js';
import { type RoundCommand, roundDecider } from '../domain/round/round.decider.js';
import { AliveNodes } from './alive-nodes.js';

const NODE_ID = /^[0-9a-f]{20}$/;
const ROUND_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * How long a vote for a round not yet in the log is held: invitations go out as the round is
 * appended, so the first commitments can arrive before the append is done.
 */
const UNKNOWN_ROUND_GRACE_MS = 2000;
const UNKNOWN_ROUND_RETRY_MS = 25;

interface QueuedVote {
  command: RoundCommand;
  /** When it arrived. */
  since: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A message to drop, with the reason for the log. */
class Dropped extends Error {}

/**
 * Commitments and reveals from the participants: each a signed envelope on the sender's own
 * subject, checked against the node's key (from the alive list its committee was drawn from, else
 * from the spores service) before it becomes a vote. A bad signature is not an offence (anyone
 * could have sent it); it is dropped and logged. Replays need no guard: a second commit or reveal
 * of the same round changes nothing.
 */
@Injectable()
export class VoteListener implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #subscriptions: Subscription[] = [];
  readonly #queued = new Map<string, QueuedVote[]>();
  readonly #writing = new Set<string>();

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(COMMAND_CLIENT) private readonly client: CommandClient,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    private readonly closer: RoundCloser,
    private readonly aliveNodes: AliveNodes,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // One instance takes each message: the stream's expected version settles any race anyway.
    this.#subscriptions.push(
      this.nc.subscribe(this.topology.subject(ConsensusSubjects.allCommits), { queue: 'consensus', callback: (_error, msg) => void this.#serve(msg, 'commit') }),
      this.nc.subscribe(this.topology.subject(ConsensusSubjects.allReveals), { queue: 'consensus', callback: (_error, msg) => void this.#serve(msg, 'reveal') }),
    );
    await this.nc.flush();
  }

  onModuleDestroy(): void {
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
  }

  async #serve(msg: Msg, kind: 'commit' | 'reveal'): Promise<void> {
    const receivedAt = new Date().toISOString();
    try {
      const payload = await this.#open(msg);
      const command = kind === 'commit' ? commitOf(payload, receivedAt) : revealOf(payload, receivedAt);
      await this.#apply(payload.roundId as string, command);
    } catch (error) {
      if (error instanceof Dropped) this.logger.warn({ subject: msg.subject }, `dropped a ${kind}: ${error.message}`);
      else if (error instanceof CommandRejection) this.logger.info({ subject: msg.subject, code: error.code }, `refused a ${kind}: ${error.message}`);
      else this.logger.error({ err: error, subject: msg.subject }, `could not handle a ${kind}`);
    }
  }

  /**
   * One append at a time per round in this instance, carrying every vote that arrived while the
   * one before was being written: hundreds of participants commit within milliseconds, and an
   * append per vote would make each wait for all before it. Instances still race each other; the
   * expected version settles that (the batch is decided again on the fresher stream).
   */
  #apply(roundId: string, command: RoundCommand): Promise<void> {
    return new Promise((resolve, reject) => {
      const queued = this.#queued.get(roundId) ?? [];
      queued.push({ command, since: Date.now(), resolve, reject });
      this.#enqueue(roundId, queued);
    });
  }

  #enqueue(roundId: string, votes: QueuedVote[]): void {
    this.#queued.set(roundId, [...votes, ...(this.#queued.get(roundId)?.filter((vote) => !votes.includes(vote)) ?? [])]);
    if (!this.#writing.has(roundId)) void this.#write(roundId);
  }

  async #write(roundId: string): Promise<void> {
    this.#writing.add(roundId);
    try {
      for (let batch = this.#queued.get(roundId); batch?.length; batch = this.#queued.get(roundId)) {
        this.#queued.delete(roundId);
        try {
          const { outcomes, state } = await handleCommands(this.store, roundStream(roundId), roundDecider, batch.map((vote) => vote.command), { maxAttempts: 10 });
          if (state === undefined) {
            const now = Date.now();
            const held = batch.filter((vote) => now - vote.since < UNKNOWN_ROUND_GRACE_MS);
            batch.forEach((vote, index) => {
              if (!held.includes(vote)) vote.reject((outcomes[index] as { error: unknown }).error);
            });
            if (held.length > 0) setTimeout(() => this.#enqueue(roundId, held), UNKNOWN_ROUND_RETRY_MS).unref();
            continue;
          }
          // The last reveal: the closer need not wait for the log to tell it.
          if (state && state.status === 'open' && allRevealed(state)) this.closer.due(roundId);
          outcomes.forEach((outcome, index) => (outcome.ok ? batch![index]!.resolve() : batch![index]!.reject(outcome.error)));
        } catch (error) {
          for (const vote of batch) vote.reject(error);
        }
      }
    } finally {
      this.#writing.delete(roundId);
    }
  }

  /** The payload of a signed message from the node its subject names, or Dropped. */
  async #open(msg: Msg): Promise<Record<string, unknown>> {
    const tokens = msg.subject.split('.');
    // …agent.<nodeId>.consensus.<kind>
    const subjectNode = tokens[tokens.length - 3] ?? '';
    let envelope: unknown;
    try {
      envelope = JSON.parse(new TextDecoder().decode(msg.data));
    } catch {
      throw new Dropped('the message is not JSON');
    }
    let claimed: unknown;
    try {
      claimed = peekEnvelope<{ nodeId?: unknown }>(envelope).nodeId;
    } catch (error) {
      throw new Dropped((error as Error).message);
    }
    if (!NODE_ID.test(subjectNode) || claimed !== subjectNode) throw new Dropped(`the message names another node than its subject (${subjectNode})`);
    const publicKey = await this.#keyOf(subjectNode);
    if (!publicKey) throw new Dropped(`node ${subjectNode} is not known to the spores service`);
    try {
      return openEnvelope<Record<string, unknown>>(envelope, publicKey);
    } catch (error) {
      if (error instanceof IdentityRejection) throw new Dropped(`node ${subjectNode}: ${error.message} (${error.code})`);
      throw error;
    }
  }

  /** Known from the alive list a committee was drawn from; else (a named participant) asked for. */
  async #keyOf(nodeId: string): Promise<string | undefined> {
    const known = this.aliveNodes.keyOf(nodeId);
    if (known) return known;
    const reply = await this.client.send(GetNode, { nodeId });
    if (!reply.ok) {
      if (reply.error.code === 'NOT_FOUND') return undefined;
      throw new Error(`the spores service did not answer for node ${nodeId}: ${reply.error.message}`);
    }
    const publicKey = reply.result.node.publicKey;
    return this.aliveNodes.learnKey(nodeId, publicKey) ? publicKey : undefined;
  }
}

const text = (value: unknown, min: number, max: number) => typeof value === 'string' && value.length >= min && value.length <= max;

function commonFields(payload: Record<string, unknown>, kind: string): void {
  if (payload.kind !== kind) throw new Dropped(`the message is not a ${kind}`);
  if (typeof payload.roundId !== 'string' || !ROUND_ID.test(payload.roundId)) throw new Dropped('roundId must be a round id');
}

function commitOf(payload: Record<string, unknown>, now: string): RoundCommand {
  commonFields(payload, 'consensus-commit' satisfies CommitMessage['kind']);
  if (typeof payload.commitment !== 'string' || !COMMITMENT.test(payload.commitment)) throw new Dropped('commitment must be 64 lower-case hex characters');
  return { type: 'CommitVote', data: { nodeId: payload.nodeId as string, commitment: payload.commitment, now } };
}

function revealOf(payload: Record<string, unknown>, now: string): RoundCommand {
  commonFields(payload, 'consensus-reveal' satisfies RevealMessage['kind']);
  if (!text(payload.vote, 1, 40)) throw new Dropped('vote must be 1 to 40 characters');
  if (!text(payload.salt, MIN_SALT_LENGTH, MAX_SALT_LENGTH)) throw new Dropped(`salt must be ${MIN_SALT_LENGTH} to ${MAX_SALT_LENGTH} characters`);
  return { type: 'RevealVote', data: { nodeId: payload.nodeId as string, vote: payload.vote as string, salt: payload.salt as string, now } };
}
