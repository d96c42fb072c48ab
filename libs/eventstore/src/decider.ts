import { isWrongExpectedVersion } from './errors.js';
import type { EventMetadata, EventStore, EventStoreTransaction, RecordedEvent } from './types.js';

/** A fact as the domain sees it: a contract type and its payload. */
export interface DomainEvent {
  type: string;
  data: unknown;
}

/**
 * The whole of an aggregate's behaviour, pure: `decide` turns a command and the current state
 * into new events (or throws a refusal), `evolve` folds an event into the state.
 */
export interface Decider<Command, Event extends DomainEvent, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

export interface HandleCommandOptions<Event> {
  /** Metadata for the appended events (correlation, causation, tenant). */
  metadata?: EventMetadata;
  /** Turns a stored event into the decider's event, e.g. by upcasting old versions. */
  read?: (recorded: RecordedEvent) => Event;
  /** Attempts when another writer appends to the stream first (outside a transaction). */
  maxAttempts?: number;
}

export interface HandledCommand<Event, State> {
  state: State;
  newEvents: Event[];
  /** Version of the stream after the command. */
  version: number;
  /** Log position of the last event appended, when the command appended any. */
  position?: bigint;
}

/**
 * Load the stream, fold it, decide, append with the version that was read. On a version
 * conflict it decides again on the fresher state; inside a transaction the conflict is left to
 * the caller, whose whole unit of work must be retried.
 */
export async function handleCommand<Command, Event extends DomainEvent, State>(
  target: EventStore | EventStoreTransaction,
  streamId: string,
  decider: Decider<Command, Event, State>,
  command: Command,
  options: HandleCommandOptions<Event> = {},
): Promise<HandledCommand<Event, State>> {
  const { state, outcomes, version, position } = await handleCommands(target, streamId, decider, [command], options);
  const outcome = outcomes[0]!;
  if (!outcome.ok) throw outcome.error;
  return { state, newEvents: outcome.newEvents, version, ...(position === undefined ? {} : { position }) };
}

/** What became of one command of a batch: its events, or the refusal `decide` threw. */
export type BatchOutcome<Event> = { ok: true; newEvents: Event[] } | { ok: false; error: unknown };

export interface HandledCommands<Event, State> {
  state: State;
  /** One per command, in the order given. */
  outcomes: BatchOutcome<Event>[];
  version: number;
  position?: bigint;
}

/**
 * Several commands to one stream in one append: each is decided on the state the ones before it
 * left, a refused command is reported and changes nothing, and the accepted ones' events are
 * appended together at the version read. For bursts (hundreds of votes on one round within
 * milliseconds) where one append per command would make each wait for the one before.
 */
export async function handleCommands<Command, Event extends DomainEvent, State>(
  target: EventStore | EventStoreTransaction,
  streamId: string,
  decider: Decider<Command, Event, State>,
  commands: Command[],
  options: HandleCommandOptions<Event> = {},
): Promise<HandledCommands<Event, State>> {
  const read = options.read ?? ((recorded: RecordedEvent) => ({ type: recorded.type, data: recorded.data }) as Event);
  const inTransaction = 'markHandled' in target;
  const maxAttempts = inTransaction ? 1 : (options.maxAttempts ?? 3);
  for (let attempt = 1; ; attempt += 1) {
    const history = await target.readStream(streamId);
    let state = history.reduce((current, recorded) => decider.evolve(current, read(recorded)), decider.initialState());
    const version = history.at(-1)?.streamVersion ?? 0;
    const outcomes: BatchOutcome<Event>[] = [];
    const accepted: Event[] = [];
    for (const command of commands) {
      try {
        const newEvents = decider.decide(command, state);
        state = newEvents.reduce((current, event) => decider.evolve(current, event), state);
        accepted.push(...newEvents);
        outcomes.push({ ok: true, newEvents });
      } catch (error) {
        outcomes.push({ ok: false, error });
      }
    }
    if (accepted.length === 0) return { state, outcomes, version };
    try {
      const result = await target.append(
        streamId,
        accepted.map((event) => ({ type: event.type, data: event.data, metadata: options.metadata })),
        { expectedVersion: version === 0 ? 'no-stream' : version },
      );
      return { state, outcomes, version: result.nextExpectedVersion, position: result.lastPosition };
    } catch (error) {
      if (!isWrongExpectedVersion(error) || attempt >= maxAttempts) throw error;
    }
  }
}
