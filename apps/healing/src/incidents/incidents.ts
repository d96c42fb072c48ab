import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type EventMetadata, type EventStore, type EventStoreTransaction, followAll, handleCommand, type RecordedEvent, type StreamAppend } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { type IncidentCommand, incidentDecider } from '../domain/incident/incident.decider.js';
import {
  evolveIncident,
  INCIDENT_STREAM_PREFIX,
  type IncidentEvent,
  incidentIdFor,
  type IncidentState,
  incidentStream,
  initialIncidentState,
} from '../domain/incident/incident.js';
import { evolveWebhook, WEBHOOK_STREAM_PREFIX, type WebhookCommand, webhookDecider, type WebhookEvent, type WebhookState, webhookStream, initialWebhookState } from '../domain/webhook/webhook.js';

type Target = EventStore | EventStoreTransaction;

export interface Episode {
  incidentId: string;
  state: IncidentState;
}

/**
 * The incidents and webhooks: commands through their deciders (load, decide, append at the version
 * read), and an in-process view of both that follows the log, for queries and the reconciler.
 * The view may lag the log a little; every decision is made on the stream itself.
 */
@Injectable()
export class Incidents implements OnModuleInit, OnModuleDestroy {
  readonly #incidents = new Map<string, { state: IncidentState; version: number }>();
  readonly #webhooks = new Map<string, { state: WebhookState; version: number }>();
  readonly #listeners = new Set<() => void>();
  readonly #stop = new AbortController();
  #markReady!: () => void;
  /** Resolves once everything logged before this instance started is in the view. */
  readonly ready = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    void followAll(this.store, {
      streamPrefixes: [INCIDENT_STREAM_PREFIX, WEBHOOK_STREAM_PREFIX],
      signal: this.#stop.signal,
      maxBackoffMs: 15_000,
      apply: (events) => {
        for (const event of events) this.#observe(event);
        for (const listener of this.#listeners) listener();
      },
      onCaughtUp: () => this.#markReady(),
      onError: (error, retryInMs) => this.logger.warn({ err: error, retryInMs }, 'the incident view lost the event store; it resumes where it was'),
    });
  }

  onModuleDestroy(): void {
    this.#stop.abort();
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every incident in the view, newest first. */
  all(): IncidentState[] {
    return [...this.#incidents.values()].map((entry) => entry.state).sort((a, b) => b.openedAt.localeCompare(a.openedAt));
  }

  open(): IncidentState[] {
    return this.all().filter((state) => state.status === 'open');
  }

  webhooks(): WebhookState[] {
    return [...this.#webhooks.values()].map((entry) => entry.state);
  }

  /** The incident as of its newest event, read from its stream. */
  async get(incidentId: string, target: Target = this.store): Promise<IncidentState> {
    const history = await target.readStream(incidentStream(incidentId));
    return history.reduce((state, event) => evolveIncident(state, event as unknown as IncidentEvent), initialIncidentState());
  }

  /**
   * The incidents about `subject` so far, oldest first, and the id the next one takes. Read from
   * the streams (inside the caller's transaction), so two deliveries cannot both open one.
   */
  async episodes(subject: string, target: Target): Promise<{ history: Episode[]; nextId: string; open?: Episode }> {
    const history: Episode[] = [];
    for (let episode = 1; ; episode += 1) {
      const incidentId = incidentIdFor(subject, episode);
      const state = await this.get(incidentId, target);
      if (state.status === 'none') return { history, nextId: incidentId, open: history.find((entry) => entry.state.status === 'open') };
      history.push({ incidentId, state });
    }
  }

  async execute(incidentId: string, command: IncidentCommand, target: Target = this.store, metadata?: EventMetadata): Promise<IncidentState> {
    const { state } = await handleCommand(target, incidentStream(incidentId), incidentDecider, command, { metadata });
    return state;
  }

  /**
   * The same command offered to many incidents in one read and one append: a replacement's health
   * may concern any incident being evacuated, and asking each in turn would hold the transaction
   * open for two round trips an incident.
   */
  async executeAcross(incidentIds: string[], command: IncidentCommand, tx: EventStoreTransaction, metadata?: EventMetadata): Promise<void> {
    const streams = await tx.readStreams(incidentIds.map(incidentStream));
    const appends: StreamAppend[] = [];
    for (const [streamId, history] of streams) {
      const state = history.reduce((current, event) => evolveIncident(current, event as unknown as IncidentEvent), initialIncidentState());
      const events = incidentDecider.decide(command, state);
      if (events.length > 0) appends.push({ streamId, events: events.map((event) => ({ ...event, metadata })), expectedVersion: history.length === 0 ? 'no-stream' : history.at(-1)!.streamVersion });
    }
    await tx.appendMany(appends);
  }

  async executeWebhook(tenant: string, command: WebhookCommand, target: Target = this.store, metadata?: EventMetadata): Promise<{ state: WebhookState; newEvents: WebhookEvent[] }> {
    const { state, newEvents } = await handleCommand(target, webhookStream(tenant), webhookDecider, command, { metadata });
    return { state, newEvents };
  }

  #observe(recorded: RecordedEvent): void {
    if (recorded.streamId.startsWith(INCIDENT_STREAM_PREFIX)) {
      const id = recorded.streamId.slice(INCIDENT_STREAM_PREFIX.length);
      const cached = this.#incidents.get(id) ?? { state: initialIncidentState(), version: 0 };
      if (recorded.streamVersion !== cached.version + 1) return;
      this.#incidents.set(id, { state: evolveIncident(cached.state, recorded as unknown as IncidentEvent), version: recorded.streamVersion });
    } else {
      const tenant = recorded.streamId.slice(WEBHOOK_STREAM_PREFIX.length);
      const cached = this.#webhooks.get(tenant) ?? { state: initialWebhookState(), version: 0 };
      if (recorded.streamVersion !== cached.version + 1) return;
      this.#webhooks.set(tenant, { state: evolveWebhook(cached.state, recorded as unknown as WebhookEvent), version: recorded.streamVersion });
    }
  }
}
