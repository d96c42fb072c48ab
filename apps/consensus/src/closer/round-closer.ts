import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ErrorCodes, RoundClosed, type RoundClosedV1, SetNodeTrust, type TrustChangedV1 } from '@mycelium/contracts';
import { type EventStore, handleCommand, isWrongExpectedVersion, type Lease } from '@mycelium/eventstore';
import { COMMAND_CLIENT, type CommandClient, EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { CONSENSUS_CONFIG, type ConsensusConfig } from '../consensus.config.js';
import { ConsensusDirectory, roundStream, trustStream } from '../directory/consensus-directory.js';
import { roundDecider } from '../domain/round/round.decider.js';
import { trustAdjustments } from '../domain/round/round-trust.js';
import type { Round } from '../domain/round/round.js';
import { trustDecider } from '../domain/trust/trust.js';
import { Invitations } from '../protocol/invitations.js';

export const CLOSER_LEASE = 'consensus-closer';
/** How far back a new lease holder re-sends trust changes to the spores service. */
const RETELL_WINDOW_MS = 60_000;

/**
 * Ends rounds: after the reveal deadline, or as soon as every participant revealed. It runs in
 * exactly one consensus instance, the holder of a lease; another takes over when that one dies,
 * and finds the open rounds in the log. A round and the trust it moves close in one transaction,
 * so a crash never leaves one without the other, and a round closes once.
 */
@Injectable()
export class RoundCloser implements OnApplicationBootstrap, OnModuleDestroy {
  #lease: Lease | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #ticking = false;
  #unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CONSENSUS_CONFIG) private readonly config: ConsensusConfig,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    @Inject(COMMAND_CLIENT) private readonly client: CommandClient,
    private readonly directory: ConsensusDirectory,
    private readonly invitations: Invitations,
  ) {}

  get isLeader(): boolean {
    return this.#lease?.isHeld === true;
  }

  onApplicationBootstrap(): void {
    // The last reveal closes a round without waiting for the deadline.
    this.#unsubscribe = this.directory.onChange((round) => {
      if (round.status === 'open' && this.isLeader && allRevealed(round)) void this.#tick();
    });
    void this.#loop();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#unsubscribe?.();
    await this.#lease?.release().catch(() => undefined);
  }

  async #loop(): Promise<void> {
    if (this.#stopped) return;
    try {
      if (!this.isLeader) await this.#tryLead();
      if (this.isLeader) await this.#tick();
    } catch (error) {
      this.logger.warn({ err: error }, 'the round closer failed: trying again');
    }
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#loop(), this.config.closerTickMs);
    this.#timer.unref();
  }

  async #tryLead(): Promise<void> {
    const lease = await this.store.tryAcquireLease(CLOSER_LEASE);
    if (!lease) return;
    if (this.#stopped) {
      await lease.release();
      return;
    }
    this.#lease = lease;
    await this.directory.ready;
    this.logger.info('this consensus instance closes rounds');
    // Invitations a dead instance may not have sent: agents ignore one they have answered.
    const now = Date.now();
    for (const round of this.directory.openRounds()) {
      if (Date.parse(round.opened.commitDeadline) > now) this.invitations.send(round.opened);
    }
    // A closer that died between its commit and telling the registry: tell it the newest changes
    // again. Only recent ones, so an older score does not undo what an operator or healing set since.
    await this.#tellSpores(this.directory.trustChangedSince(new Date(now - RETELL_WINDOW_MS).toISOString()));
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      await this.directory.ready;
      const now = Date.now();
      for (const round of this.directory.openRounds()) {
        if (!this.isLeader || this.#stopped) return;
        if (now < Date.parse(round.opened.revealDeadline) && !allRevealed(round)) continue;
        await this.close(round.roundId, new Date(now).toISOString()).catch((error: unknown) => {
          // A reveal appended meanwhile: the next tick decides on the fresher stream.
          if (!isWrongExpectedVersion(error)) this.logger.warn({ err: error, roundId: round.roundId }, 'could not close a round');
        });
      }
    } finally {
      this.#ticking = false;
    }
  }

  /** Closes the round if it is due, with the trust it moves; undefined when it was not (or was closed already). */
  async close(roundId: string, now: string): Promise<RoundClosedV1 | undefined> {
    const done = await this.store.transaction(async (tx) => {
      const result = await handleCommand(tx, roundStream(roundId), roundDecider, { type: 'CloseRound', data: { now } });
      const event = result.newEvents.find((candidate) => candidate.type === RoundClosed.type);
      if (!event || !result.state) return undefined;
      const changes: TrustChangedV1[] = [];
      for (const adjustment of trustAdjustments(result.state, event.data as RoundClosedV1)) {
        const moved = await handleCommand(tx, trustStream(adjustment.nodeId), trustDecider, {
          type: 'AdjustTrust',
          data: { ...adjustment, initial: this.directory.initialTrust(adjustment.nodeId), roundId, now },
        });
        changes.push(...moved.newEvents.map((changed) => changed.data));
      }
      return { closed: event.data as RoundClosedV1, changes };
    });
    if (!done) return undefined;
    const { closed, changes } = done;
    this.logger.info({ roundId, outcome: closed.outcome, tally: closed.tally, offenders: closed.offenders.length }, `round ${roundId} closed: ${closed.outcome}`);
    await this.#tellSpores(changes);
    return closed;
  }

  /**
   * The registry's tier rules read trust too. Told after the close commits, never from inside a
   * transaction: the spores service waits for its registry to see its own append, which an open
   * transaction here would hold back.
   */
  async #tellSpores(changes: Pick<TrustChangedV1, 'nodeId' | 'to' | 'reason'>[]): Promise<void> {
    for (const { nodeId, to, reason } of changes) {
      try {
        const reply = await this.client.send(SetNodeTrust, { nodeId, trust: to, reason });
        // A node the registry does not know has no score there to set.
        if (!reply.ok && reply.error.code !== ErrorCodes.NotFound) this.logger.warn({ nodeId, code: reply.error.code }, `the spores service refused the trust of node ${nodeId}: ${reply.error.message}`);
      } catch (error) {
        this.logger.warn({ err: error, nodeId }, `could not tell the spores service the trust of node ${nodeId}`);
      }
    }
  }
}

const allRevealed = (round: Round) => round.opened.participants.every(({ nodeId }) => round.reveals[nodeId] !== undefined);
