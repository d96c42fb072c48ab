import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CommandRejection, ErrorCodes, type ProjectionReplay, type ProjectionView } from '@mycelium/contracts';
import {
  activateGeneration,
  type EventStore,
  type Lease,
  parseLogPoint,
  positionOf,
  projectionGenerations,
  ProjectionRunner,
  replayProjection,
  startGeneration,
} from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { EventHub } from '../events/event-hub.js';
import { GATEWAY_PROJECTIONS, type GatewayProjection } from './definitions.js';

export const PROJECTIONS_LEASE = 'gateway-projections';
const REPLAY_WAIT_MS = 5000;

interface Rebuild {
  runner: ProjectionRunner;
  /** Still catching up from the start of the log. */
  building: boolean;
  events: number;
}

/**
 * The gateway's persistent projections, kept by one gateway instance at a time (a lease): each
 * definition's active generation follows the log; a rebuild folds a new generation from the start
 * while the active one goes on serving, then the two swap in one transaction. A definition whose
 * code changed (a new `version`) is rebuilt when its keeper starts (docs/adr/0021).
 */
@Injectable()
export class Projections implements OnApplicationBootstrap, OnModuleDestroy {
  #lease: Lease | undefined;
  #stopped = false;
  #leaseTimer: NodeJS.Timeout | undefined;
  readonly #live = new Map<string, ProjectionRunner>();
  readonly #rebuilds = new Map<string, Rebuild>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    private readonly hub: EventHub,
  ) {}

  get definitions(): GatewayProjection[] {
    return GATEWAY_PROJECTIONS;
  }

  onApplicationBootstrap(): void {
    void this.#tryLead();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#leaseTimer);
    await this.#lease?.release().catch(() => undefined);
  }

  async #tryLead(): Promise<void> {
    if (this.#stopped) return;
    if (this.#lease?.isHeld !== true) {
      try {
        const lease = await this.store.tryAcquireLease(PROJECTIONS_LEASE);
        if (lease && !this.#stopped) {
          this.#lease = lease;
          // Another instance may have moved them on since this one last kept them.
          this.#live.clear();
          this.logger.info('this gateway instance keeps the projections');
          for (const definition of this.definitions) void this.#keep(definition);
        } else await lease?.release();
      } catch (error) {
        this.logger.warn({ err: error }, 'could not ask for the projections lease');
      }
    }
    this.#leaseTimer = setTimeout(() => void this.#tryLead(), 1000);
    this.#leaseTimer.unref();
  }

  /** Keeps one projection current while this instance holds the lease; swaps in a finished rebuild. */
  async #keep(definition: GatewayProjection): Promise<void> {
    for (let backoff = 100; !this.#stopped && this.#lease?.isHeld; ) {
      try {
        let runner = this.#live.get(definition.name) ?? (await this.#openActive(definition));
        this.#live.set(definition.name, runner);
        while (!this.#stopped && this.#lease?.isHeld) {
          const rebuilt = this.#rebuilds.get(definition.name);
          if (rebuilt && !rebuilt.building) {
            // Caught up once; in this loop nothing else writes, so fold the last pages and swap.
            await rebuilt.runner.catchUp();
            await activateGeneration(this.store, definition.name, rebuilt.runner.generation);
            this.#live.set(definition.name, rebuilt.runner);
            this.#rebuilds.delete(definition.name);
            this.logger.info({ projection: definition.name, generation: rebuilt.runner.generation }, `projection ${definition.name} rebuilt: generation ${rebuilt.runner.generation} serves`);
            runner = rebuilt.runner;
          }
          if (!(await runner.step())) await this.hub.nextEvents(1000);
        }
        return;
      } catch (error) {
        this.logger.warn({ err: error, projection: definition.name, retryInMs: backoff }, 'a projection could not keep up with the log: retrying');
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  /** The active generation, or a first one built from the start; one built by other code is rebuilt. */
  async #openActive(definition: GatewayProjection): Promise<ProjectionRunner> {
    const generations = await projectionGenerations(this.store, definition.name);
    const active = generations.find((generation) => generation.status === 'active');
    if (active && active.codeVersion === definition.version) return ProjectionRunner.open(this.store, definition, active);
    const runner = await ProjectionRunner.open(this.store, definition, await startGeneration(this.store, definition));
    await runner.catchUp();
    await activateGeneration(this.store, definition.name, runner.generation);
    return runner;
  }

  definition(name: string): GatewayProjection {
    const definition = this.definitions.find((candidate) => candidate.name === name);
    if (!definition) throw new CommandRejection({ code: ErrorCodes.NotFound, message: `no projection ${name}: there are ${this.definitions.map((known) => known.name).join(', ')}`, field: 'name' });
    return definition;
  }

  async list(name?: string): Promise<ProjectionView[]> {
    const head = (await this.store.headPosition()).toString();
    const views: ProjectionView[] = [];
    for (const definition of name ? [this.definition(name)] : this.definitions) {
      const generations = await projectionGenerations(this.store, definition.name);
      const rebuild = this.#rebuilds.get(definition.name);
      views.push({
        name: definition.name,
        version: definition.version,
        description: definition.description,
        head,
        generations: generations.map((generation) => ({
          generation: generation.generation,
          status: generation.status,
          codeVersion: generation.codeVersion,
          position: generation.position.toString(),
          startedAt: generation.startedAt.toISOString(),
          ...(generation.activatedAt ? { activatedAt: generation.activatedAt.toISOString() } : {}),
        })),
        ...(rebuild ? { rebuilding: { generation: rebuild.runner.generation, position: rebuild.runner.position.toString(), events: rebuild.events } } : {}),
      });
    }
    return views;
  }

  /** Starts a rebuild in this instance (it must keep the projections); answers at once with the new generation. */
  async rebuild(name: string): Promise<{ name: string; generation: number }> {
    const definition = this.definition(name);
    if (this.#lease?.isHeld !== true) throw new CommandRejection({ code: ErrorCodes.ServiceUnavailable, message: 'this gateway instance does not keep the projections just now: try again' });
    const running = this.#rebuilds.get(name);
    if (running) return { name, generation: running.runner.generation };
    const runner = await ProjectionRunner.open(this.store, definition, await startGeneration(this.store, definition));
    const rebuild: Rebuild = { runner, building: true, events: 0 };
    this.#rebuilds.set(name, rebuild);
    void runner
      .catchUp((progress) => (rebuild.events = progress.events))
      .then(
        () => {
          // The keeper swaps it in at its next turn (at most a second away).
          rebuild.building = false;
        },
        (error: unknown) => {
          this.#rebuilds.delete(name);
          this.logger.error({ err: error, projection: name }, `the rebuild of projection ${name} failed; the active generation still serves`);
        },
      );
    return { name, generation: runner.generation };
  }

  /** The slice replayed through each projection's current code, against its active generation's record. */
  async replay(request: { from: string; to: string; service?: string; name?: string }): Promise<ProjectionReplay[]> {
    const [from, to] = await Promise.all([positionOf(this.store, parseLogPoint(request.from)!), positionOf(this.store, parseLogPoint(request.to)!)]);
    if (to < from) throw new CommandRejection({ code: ErrorCodes.ValidationFailed, message: 'to comes before from', field: 'to' });
    const results: ProjectionReplay[] = [];
    for (const definition of request.name ? [this.definition(request.name)] : this.definitions) {
      let active = (await projectionGenerations(this.store, definition.name)).find((generation) => generation.status === 'active');
      // A slice that ends at the head may be a moment ahead of the keeper: give it a few seconds.
      for (let waited = 0; active && active.position < to && waited < REPLAY_WAIT_MS; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        active = (await projectionGenerations(this.store, definition.name)).find((generation) => generation.status === 'active');
      }
      if (!active) continue;
      if (active.position < to) {
        throw new CommandRejection({ code: ErrorCodes.IllegalState, message: `projection ${definition.name} has recorded up to ${active.position} only: replay up to there, or wait`, field: 'to' });
      }
      const replayed = await replayProjection(this.store, definition, active.generation, { from, to, ...(request.service ? { filter: { streamPrefixes: [`${request.service}/`] } } : {}) });
      results.push({ name: definition.name, generation: active.generation, slice: { from: replayed.from.toString(), to: replayed.to.toString() }, events: replayed.events, touched: replayed.touched, differences: replayed.differences.slice(0, 100), differing: replayed.differences.length });
    }
    return results;
  }
}
