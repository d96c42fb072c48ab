import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { TrustChangedV1 } from '@mycelium/contracts';
import { type EventStore, followAll, type RecordedEvent } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { CONSENSUS_CONFIG, type ConsensusConfig } from '../consensus.config.js';
import { evolveRound, type Round, type RoundEvent } from '../domain/round/round.js';
import { evolveTrust, type TrustEvent, type TrustState } from '../domain/trust/trust.js';

export const ROUND_STREAM_PREFIX = 'consensus/round/';
export const TRUST_STREAM_PREFIX = 'consensus/trust/';
export const roundStream = (roundId: string) => `${ROUND_STREAM_PREFIX}${roundId}`;
export const trustStream = (nodeId: string) => `${TRUST_STREAM_PREFIX}${nodeId}`;

/**
 * Every round and every node's trust, folded from the service's own streams and kept current by
 * tailing the log: what the closer scans after a restart and what invitations are weighed with.
 */
@Injectable()
export class ConsensusDirectory implements OnModuleInit, OnModuleDestroy {
  readonly #rounds = new Map<string, Round>();
  readonly #trust = new Map<string, TrustState>();
  readonly #lastChange = new Map<string, TrustChangedV1>();
  readonly #stop = new AbortController();
  readonly #listeners = new Set<(round: Round) => void>();
  #markReady!: () => void;
  readonly ready = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CONSENSUS_CONFIG) private readonly config: ConsensusConfig,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    void followAll(this.store, {
      streamPrefixes: [ROUND_STREAM_PREFIX, TRUST_STREAM_PREFIX],
      signal: this.#stop.signal,
      apply: (events) => this.#apply(events),
      onCaughtUp: () => this.#markReady(),
      onError: (error, retryInMs) => this.logger.warn({ err: error, retryInMs }, 'could not read the consensus streams: retrying'),
    });
  }

  onModuleDestroy(): void {
    this.#stop.abort();
  }

  #apply(events: RecordedEvent[]): void {
    const changed = new Set<string>();
    for (const recorded of events) {
      if (recorded.streamId.startsWith(ROUND_STREAM_PREFIX)) {
        const roundId = recorded.streamId.slice(ROUND_STREAM_PREFIX.length);
        const current = this.#rounds.get(roundId);
        // A page may come again after a failure: fold each version once.
        if ((current?.version ?? 0) >= recorded.streamVersion) continue;
        const next = evolveRound(current, { type: recorded.type, data: recorded.data } as RoundEvent);
        if (!next) continue;
        this.#rounds.set(roundId, next);
        changed.add(roundId);
      } else {
        const nodeId = recorded.streamId.slice(TRUST_STREAM_PREFIX.length);
        const current = this.#trust.get(nodeId) ?? { trust: undefined, changes: 0 };
        if (current.changes >= recorded.streamVersion) continue;
        const event = { type: recorded.type, data: recorded.data } as TrustEvent;
        this.#trust.set(nodeId, evolveTrust(current, event));
        this.#lastChange.set(nodeId, event.data);
      }
    }
    for (const roundId of changed) for (const listener of this.#listeners) listener(this.#rounds.get(roundId)!);
  }

  round(roundId: string): Round | undefined {
    return this.#rounds.get(roundId);
  }

  openRounds(): Round[] {
    return [...this.#rounds.values()].filter((round) => round.status === 'open');
  }

  onChange(listener: (round: Round) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  isGenesis(nodeId: string): boolean {
    return this.config.genesisNodes.includes(nodeId);
  }

  /** Where a node starts before any round moved it. */
  initialTrust(nodeId: string): number {
    return this.isGenesis(nodeId) ? this.config.genesisTrust : this.config.initialTrust;
  }

  trustOf(nodeId: string): number {
    return this.#trust.get(nodeId)?.trust ?? this.initialTrust(nodeId);
  }

  /** The newest change of each node whose trust moved at or after `since` (ISO 8601). */
  trustChangedSince(since: string): TrustChangedV1[] {
    return [...this.#lastChange.values()].filter((change) => Date.parse(change.at) >= Date.parse(since));
  }

  isExcluded(nodeId: string): boolean {
    return this.trustOf(nodeId) < this.config.exclusionThreshold;
  }
}
