import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { RoundClosed, type RoundClosedV1, type TrustChangedV1 } from '@mycelium/contracts';
import { type EventStore, isWrongExpectedVersion, type Lease, type StreamAppend } from '@mycelium/eventstore';
import { COMMAND_CLIENT, type CommandClient, EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { CONSENSUS_CONFIG, type ConsensusConfig } from '../consensus.config.js';
import { ConsensusDirectory, roundStream, trustStream } from '../directory/consensus-directory.js';
import { roundDecider } from '../domain/round/round.decider.js';
import { type TrustAdjustment, trustAdjustments } from '../domain/round/round-trust.js';
import { evolveRound, type Round, type RoundEvent, type RoundState } from '../domain/round/round.js';
import { trustDecider, type TrustEvent, type TrustState } from '../domain/trust/trust.js';
import { Invitations } from '../protocol/invitations.js';
import { SporesTrust } from './spores-trust.js';

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
  /**
   * Told after a close commits, never from inside its transaction: the spores service waits for
   * its registry to see its own append, which an open transaction here would hold back.
   */
  readonly #sporesTrust: SporesTrust;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CONSENSUS_CONFIG) private readonly config: ConsensusConfig,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    @Inject(COMMAND_CLIENT) private readonly client: CommandClient,
    private readonly directory: ConsensusDirectory,
    private readonly invitations: Invitations,
  ) {
    this.#sporesTrust = new SporesTrust(client, logger);
  }

  /** Rounds known to be due before the log says so (every participant revealed). */
  readonly #due = new Set<string>();

  /** Told by this instance's vote listener when a round's last reveal is written: close it now. */
  due(roundId: string): void {
    this.#due.add(roundId);
    if (this.isLeader) void this.#tick();
  }

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
    this.#sporesTrust.stop();
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
    this.#sporesTrust.tell(this.directory.trustChangedSince(new Date(now - RETELL_WINDOW_MS).toISOString()));
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      await this.directory.ready;
      if (!this.isLeader || this.#stopped) return;
      const now = Date.now();
      const due = [
        ...new Set([
          ...this.#due,
          ...this.directory
            .openRounds()
            .filter((round) => now >= Date.parse(round.opened.revealDeadline) || allRevealed(round))
            .map((round) => round.roundId),
        ]),
      ];
      this.#due.clear();
      if (due.length === 0) return;
      const at = new Date(now).toISOString();
      // Together first: fifty rounds due at once close in one short transaction. A reveal appended
      // meanwhile to one of them fails the lot; then each alone, so one busy round holds up no other.
      const together = await this.close(due, at).catch((error: unknown) => {
        if (!isWrongExpectedVersion(error)) this.logger.warn({ err: error, rounds: due.length }, 'could not close the rounds due');
        return undefined;
      });
      if (together || due.length === 1) return;
      for (const roundId of due) {
        if (!this.isLeader || this.#stopped) return;
        await this.close([roundId], at).catch((error: unknown) => {
          // A reveal appended meanwhile: the next tick decides on the fresher stream.
          if (!isWrongExpectedVersion(error)) this.logger.warn({ err: error, roundId }, 'could not close a round');
        });
      }
    } finally {
      this.#ticking = false;
      // Rounds that became due while this tick ran.
      if (this.#due.size > 0 && this.isLeader && !this.#stopped) void this.#tick();
    }
  }

  /**
   * Closes those of the rounds that are due, with the trust they move, in one transaction; returns
   * what closed (none when none was due or all were closed already). Three round trips however
   * many rounds and participants: the rounds in one read, every participant's trust in another,
   * everything in one append, so the transaction (which holds back every reader of the log while
   * it is open) stays short. A node in several rounds moves once per round, in their order.
   */
  async close(roundIds: string[], now: string): Promise<RoundClosedV1[]> {
    const done = await this.store.transaction(async (tx) => {
      const rounds = await tx.readStreams(roundIds.map(roundStream));
      const appends: StreamAppend[] = [];
      const closed: RoundClosedV1[] = [];
      const adjustments: (TrustAdjustment & { roundId: string })[] = [];
      for (const roundId of roundIds) {
        const round = rounds.get(roundStream(roundId))!.reduce<RoundState>((state, recorded) => evolveRound(state, { type: recorded.type, data: recorded.data } as RoundEvent), undefined);
        const closing = roundDecider.decide({ type: 'CloseRound', data: { now } }, round);
        const event = closing.find((candidate) => candidate.type === RoundClosed.type);
        if (!event || !round) continue;
        const outcome = event.data as RoundClosedV1;
        appends.push({ streamId: roundStream(roundId), events: closing, expectedVersion: round.version });
        closed.push(outcome);
        adjustments.push(...trustAdjustments(evolveRound(round, event)!, outcome).map((adjustment) => ({ ...adjustment, roundId })));
      }
      if (appends.length === 0) return { closed, changes: [] };
      const trusts = await tx.readStreams([...new Set(adjustments.map(({ nodeId }) => trustStream(nodeId)))]);
      const moves = new Map<string, { state: TrustState; version: number; events: TrustEvent[] }>();
      for (const [streamId, history] of trusts) {
        const state = history.reduce((current, recorded) => trustDecider.evolve(current, { type: recorded.type, data: recorded.data } as TrustEvent), trustDecider.initialState());
        moves.set(streamId, { state, version: history.at(-1)?.streamVersion ?? 0, events: [] });
      }
      for (const adjustment of adjustments) {
        const move = moves.get(trustStream(adjustment.nodeId))!;
        const moved = trustDecider.decide({ type: 'AdjustTrust', data: { ...adjustment, initial: this.directory.initialTrust(adjustment.nodeId), now } }, move.state);
        move.state = moved.reduce(trustDecider.evolve, move.state);
        move.events.push(...moved);
      }
      const changes: TrustChangedV1[] = [];
      for (const [streamId, { version, events }] of moves) {
        if (events.length === 0) continue;
        appends.push({ streamId, events, expectedVersion: version === 0 ? 'no-stream' : version });
        changes.push(...events.map((changed) => changed.data));
      }
      await tx.appendMany(appends);
      return { closed, changes };
    });
    const { closed, changes } = done;
    for (const round of closed) {
      this.logger.info({ roundId: round.roundId, outcome: round.outcome, tally: round.tally, offenders: round.offenders.length }, `round ${round.roundId} closed: ${round.outcome}`);
    }
    this.#sporesTrust.tell(changes);
    return closed;
  }
}

export const allRevealed = (round: Round) => round.opened.participants.every(({ nodeId }) => round.reveals[nodeId] !== undefined);
