import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { AppDeployRequested, AppUpdateRequested } from '@mycelium/contracts';
import { type EventStore, followAll, type RecordedEvent } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { type App, type AppEvent, evolve } from '../domain/app.js';

export const APP_STREAM_PREFIX = 'deployment/app/';

/**
 * Every app, folded from the deployment service's own streams and kept current by tailing the log:
 * what the commands read, what the saga plans from, and what the ingress' route list is made of.
 */
@Injectable()
export class AppDirectory implements OnModuleInit, OnModuleDestroy {
  readonly #apps = new Map<string, App>();
  readonly #stop = new AbortController();
  readonly #listeners = new Set<(app: App) => void>();
  readonly #waiters = new Set<{ appId: string; version: number; done: () => void }>();
  #markReady!: () => void;
  readonly ready = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    void followAll(this.store, {
      streamPrefixes: [APP_STREAM_PREFIX],
      signal: this.#stop.signal,
      apply: (events) => this.#apply(events),
      onCaughtUp: () => this.#markReady(),
      onError: (error, retryInMs) => this.logger.warn({ err: error, retryInMs }, 'could not read the app streams: retrying'),
    });
  }

  onModuleDestroy(): void {
    this.#stop.abort();
  }

  #apply(events: RecordedEvent[]): void {
    const changed = new Set<App>();
    for (const recorded of events) {
      const appId = recorded.streamId.slice(APP_STREAM_PREFIX.length);
      const current = this.#apps.get(appId);
      // A page may come again after a failure: fold each version once.
      if (current && recorded.streamVersion <= current.version) continue;
      const next = evolve(current, { type: recorded.type, data: recorded.data } as AppEvent);
      if (!next) continue;
      const correlationId = recorded.metadata.correlationId;
      if (next.rollout && (recorded.type === AppDeployRequested.type || recorded.type === AppUpdateRequested.type) && typeof correlationId === 'string') {
        next.rollout = { ...next.rollout, correlationId };
      }
      this.#apps.set(appId, next);
      changed.add(next);
    }
    for (const app of changed) {
      const latest = this.#apps.get(app.appId)!;
      for (const listener of this.#listeners) listener(latest);
      for (const waiter of this.#waiters) {
        if (waiter.appId === latest.appId && latest.version >= waiter.version) {
          this.#waiters.delete(waiter);
          waiter.done();
        }
      }
    }
  }

  get(appId: string): App | undefined {
    return this.#apps.get(appId);
  }

  all(): App[] {
    return [...this.#apps.values()];
  }

  /** The tenant's app of this name that is not over (a failed, stopped or deleted one may share it). */
  byName(tenant: string, name: string): App | undefined {
    return this.all().find((app) => app.tenant === tenant && app.spec.name === name && !['failed', 'stopped', 'deleted', 'suspended'].includes(app.status));
  }

  onChange(listener: (app: App) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The app once `accept` holds for it, or as it is after `timeoutMs`. */
  waitUntil(appId: string, accept: (app: App) => boolean, timeoutMs: number): Promise<App | undefined> {
    const current = this.#apps.get(appId);
    if (current && accept(current)) return Promise.resolve(current);
    return new Promise((resolve) => {
      const stop = this.onChange((app) => {
        if (app.appId !== appId || !accept(app)) return;
        clearTimeout(timer);
        stop();
        resolve(app);
      });
      const timer = setTimeout(() => {
        stop();
        resolve(this.#apps.get(appId));
      }, timeoutMs);
    });
  }

  /** Resolves once the directory holds `version` of the app (what a command just appended), or after `timeoutMs`. */
  waitFor(appId: string, version: number, timeoutMs = 5000): Promise<void> {
    if ((this.#apps.get(appId)?.version ?? 0) >= version) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        appId,
        version,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve();
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }
}
