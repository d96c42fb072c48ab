import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { billingContracts, type LedgerView } from '@mycelium/contracts';
import { type EventMetadata, type EventStore, followAll, isWrongExpectedVersion, type RecordedEvent } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { type AccountCommand, decideAccount } from '../domain/account/account.decider.js';
import { type AccountEvent, type AccountState, evolveAccount, initialAccountState, ledgerLines } from '../domain/account/account.js';

export const ACCOUNT_STREAM_PREFIX = 'billing/account/';
export const accountStream = (tenant: string) => `${ACCOUNT_STREAM_PREFIX}${tenant}`;

/** An account as of a version of its stream. */
export interface LoadedAccount {
  state: AccountState;
  version: number;
}

const ACCOUNT_EVENT_TYPES = new Set<string>(billingContracts.filter((contract) => contract.kind === 'event').map((contract) => contract.type));
const MAX_ATTEMPTS = 5;

/**
 * The tenants' accounts. Each command loads the account's stream, decides and appends at the
 * version it read, like `handleCommand`, but keeps every account it has folded and reads only the
 * events appended since: a metered account gains an event a period, and replaying it whole for
 * each command would grow without end. Commands for one tenant take turns in this process (fewer
 * version conflicts); other instances are kept honest by the expected version. The cache also
 * follows the log, so the metering loop knows every account without asking the store.
 */
@Injectable()
export class Accounts implements OnModuleInit, OnModuleDestroy {
  readonly #cache = new Map<string, LoadedAccount>();
  readonly #turns = new Map<string, Promise<unknown>>();
  readonly #stop = new AbortController();
  #markReady!: () => void;
  /** Resolves once every account logged before this instance started is known. */
  readonly ready = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    void followAll(this.store, {
      streamPrefixes: [ACCOUNT_STREAM_PREFIX],
      signal: this.#stop.signal,
      maxBackoffMs: 15_000,
      apply: (events) => {
        for (const event of events) this.#observe(event);
      },
      onCaughtUp: () => this.#markReady(),
      onError: (error, retryInMs) => this.logger.warn({ err: error, retryInMs }, 'the accounts lost the event store; they resume where they were'),
    });
  }

  onModuleDestroy(): void {
    this.#stop.abort();
  }

  /** Every account this instance knows, as last seen. */
  known(): IterableIterator<[string, LoadedAccount]> {
    return this.#cache.entries();
  }

  /** The account as of its newest event. */
  async load(tenant: string): Promise<LoadedAccount> {
    const cached = this.#cache.get(tenant) ?? { state: initialAccountState(), version: 0 };
    const recorded = await this.store.readStream(accountStream(tenant), { fromVersion: cached.version + 1 });
    if (recorded.length === 0) return cached;
    const loaded = { state: recorded.reduce((state, event) => fold(state, event), cached.state), version: recorded.at(-1)!.streamVersion };
    this.#remember(tenant, loaded);
    return loaded;
  }

  /** Decides `command` on the tenant's account and appends what it decided; retried on a version conflict. */
  execute(tenant: string, command: AccountCommand, metadata?: EventMetadata): Promise<{ state: AccountState; newEvents: AccountEvent[] }> {
    return this.#inTurn(tenant, async () => {
      for (let attempt = 1; ; attempt += 1) {
        const { state, version } = await this.load(tenant);
        const newEvents = decideAccount(command, state);
        if (newEvents.length === 0) return { state, newEvents };
        try {
          await this.store.append(
            accountStream(tenant),
            newEvents.map((event) => ({ type: event.type, data: event.data, metadata })),
            { expectedVersion: version === 0 ? 'no-stream' : version },
          );
        } catch (error) {
          if (!isWrongExpectedVersion(error) || attempt >= MAX_ATTEMPTS) throw error;
          continue;
        }
        const next = { state: newEvents.reduce(evolveAccount, state), version: version + newEvents.length };
        this.#remember(tenant, next);
        return { state: next.state, newEvents };
      }
    });
  }

  /** The newest `limit` ledger lines of the tenant, oldest first, and how many it has in all. */
  async ledger(tenant: string, limit: number): Promise<LedgerView> {
    const { state, version } = await this.load(tenant);
    let lines: LedgerView['entries'] = [];
    // Read back from the newest event a window at a time: most events carry one to three lines.
    for (let to = version; to > 0 && lines.length < limit; ) {
      const from = Math.max(1, to - limit + 1);
      const events = await this.store.readStream(accountStream(tenant), { fromVersion: from, maxCount: to - from + 1 });
      lines = [...events.flatMap((event) => (isAccountEvent(event) ? ledgerLines(asAccountEvent(event)) : [])), ...lines];
      to = from - 1;
    }
    return { entries: lines.slice(-limit), total: state.entryCount };
  }

  #observe(recorded: RecordedEvent): void {
    const tenant = recorded.streamId.slice(ACCOUNT_STREAM_PREFIX.length);
    const cached = this.#cache.get(tenant) ?? { state: initialAccountState(), version: 0 };
    // Events this instance appended or loaded itself are folded in already.
    if (recorded.streamVersion !== cached.version + 1) return;
    this.#cache.set(tenant, { state: fold(cached.state, recorded), version: recorded.streamVersion });
  }

  /** Keeps the newer of what is cached and `loaded`: a slow command may finish after a later one. */
  #remember(tenant: string, loaded: LoadedAccount): void {
    const cached = this.#cache.get(tenant);
    if (!cached || cached.version < loaded.version) this.#cache.set(tenant, loaded);
  }

  #inTurn<T>(tenant: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#turns.get(tenant) ?? Promise.resolve();
    const mine = previous.then(work, work);
    const settled = mine.catch(() => undefined);
    this.#turns.set(tenant, settled);
    void settled.then(() => {
      if (this.#turns.get(tenant) === settled) this.#turns.delete(tenant);
    });
    return mine;
  }
}

function isAccountEvent(recorded: RecordedEvent): boolean {
  return ACCOUNT_EVENT_TYPES.has(recorded.type);
}

const asAccountEvent = (recorded: RecordedEvent) => ({ type: recorded.type, data: recorded.data }) as AccountEvent;

/** Folds a stored event in; a type this version does not know (written by a newer one) is left out. */
function fold(state: AccountState, recorded: RecordedEvent): AccountState {
  return isAccountEvent(recorded) ? evolveAccount(state, asAccountEvent(recorded)) : state;
}
