import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import {
  AppActivated,
  AppCreditsConverted,
  AppCreditsRefunded,
  AppCreditsReserved,
  AppReplicasScheduled,
  CaptureReservation,
  type CommandError,
  type CommandReply,
  ConvertCredits,
  ErrorCodes,
  type NodeView,
  QueryNodes,
  ReleaseReservation,
  ReserveCredits,
  StopMeter,
  UpdateMeter,
} from '@mycelium/contracts';
import { type EventStore, isWrongExpectedVersion, type Lease } from '@mycelium/eventstore';
import { COMMAND_CLIENT, type CommandClient, EVENT_STORE, recently, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { randomBytes } from 'node:crypto';
import { AgentLink } from '../agents/agent-link.js';
import { ReplicaObservations } from '../agents/replica-observations.js';
import { DEPLOYMENT_CONFIG, type DeploymentConfig } from '../deployment.config.js';
import { APP_STREAM_PREFIX, AppDirectory } from '../directory/app-directory.js';
import { type App, type AppEvent, isLive } from '../domain/app.js';
import { abortStep, type Plan, plan, type Step } from '../domain/saga.js';
import { placeReplicas, type ReplicaResources } from '../domain/scheduler.js';
import { startMessage } from '../domain/spec.js';

/**
 * Runs the deploy saga of every app: in exactly one deployment instance at a time (a lease), it
 * plans each app's next step from the log and the agents' reports, carries it out, and records it.
 * Nothing of the saga lives only in memory: a restarted instance plans again from the log.
 */
@Injectable()
export class SagaRunner implements OnApplicationBootstrap, OnModuleDestroy {
  #lease: Lease | undefined;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #busy = new Set<string>();
  readonly #dirty = new Set<string>();
  /** When a start or stop was last sent, by replica. */
  readonly #sent = new Map<string, number>();
  /** What billing was last told to meter, by app ('stopped' or the replica count). */
  readonly #metered = new Map<string, string>();
  /** Retries of a step that failed for a passing reason, by app: not before this time. */
  readonly #notBefore = new Map<string, number>();
  #unsubscribe: (() => void)[] = [];

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(COMMAND_CLIENT) private readonly client: CommandClient,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    @Inject(DEPLOYMENT_CONFIG) private readonly config: DeploymentConfig,
    private readonly directory: AppDirectory,
    private readonly observations: ReplicaObservations,
    private readonly agents: AgentLink,
  ) {
    // A node that died since is at worst chosen, and its replica is placed again when it fails.
    this.#aliveNodes = recently(config.aliveNodesMaxAgeMs, () => this.client.send(QueryNodes, { status: 'alive', limit: 10_000 }));
  }

  /** The alive nodes, one list for every placement within a moment: a node evacuated re-places many apps at once. */
  readonly #aliveNodes: () => Promise<CommandReply<{ nodes: NodeView[] }>>;

  get leading(): boolean {
    return this.#lease?.isHeld === true;
  }

  onApplicationBootstrap(): void {
    this.#unsubscribe.push(
      this.directory.onChange((app) => this.#nudge(app.appId)),
      this.observations.onReport((report) => {
        for (const replica of report.replicas) this.#nudge(replica.appId);
        this.#stopOrphans(report.nodeId, report.replicas);
      }),
    );
    void this.#loop();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    await this.#lease?.release().catch(() => undefined);
  }

  #nudge(appId: string): void {
    this.#dirty.add(appId);
  }

  async #loop(): Promise<void> {
    let lastFull = 0;
    while (!this.#stopped) {
      try {
        if (!this.leading) await this.#tryLead();
        if (this.leading) {
          await this.directory.ready;
          const now = Date.now();
          const everyApp = now - lastFull >= this.config.tickMs;
          if (everyApp) lastFull = now;
          const appIds = everyApp ? this.directory.all().map((app) => app.appId) : [...this.#dirty];
          this.#dirty.clear();
          for (const appId of appIds) {
            if (!this.#busy.has(appId)) void this.#advance(appId);
          }
        }
      } catch (error) {
        this.logger.warn({ err: error }, 'the saga loop failed a round: going on');
      }
      await new Promise((resolve) => {
        this.#timer = setTimeout(resolve, this.leading ? 50 : 1000);
      });
    }
  }

  async #tryLead(): Promise<void> {
    const lease = await this.store.tryAcquireLease('deployment-saga').catch((error: unknown) => {
      this.logger.warn({ err: error }, 'could not ask for the saga lease');
      return undefined;
    });
    if (!lease) return;
    if (this.#stopped) {
      await lease.release();
      return;
    }
    this.#lease = lease;
    // What another instance told billing or agents is not known here: say it again.
    this.#metered.clear();
    this.#sent.clear();
    this.logger.info('this deployment instance runs the deploy saga');
    void lease.lost.then(() => {
      if (!this.#stopped) this.logger.warn('this deployment instance lost the saga lease');
    });
  }

  /** One step for one app; the app is not looked at again until the step is recorded. */
  async #advance(appId: string): Promise<void> {
    const app = this.directory.get(appId);
    if (!app || (this.#notBefore.get(appId) ?? 0) > Date.now()) return;
    this.#busy.add(appId);
    try {
      const next = plan(app, {
        now: Date.now(),
        observe: (replicaId) => {
          const seen = this.observations.get(replicaId);
          return seen ? { state: seen.report.state, address: seen.report.address, message: seen.report.message, restarts: seen.report.restarts } : undefined;
        },
        meterSynced: this.#meterSynced(app),
      });
      this.#sendStarts(app, next);
      await this.#carryOut(app, next.step);
    } catch (error) {
      this.logger.warn({ err: error, appId }, 'a saga step failed: it is tried again');
      this.#notBefore.set(appId, Date.now() + 1000);
    } finally {
      this.#busy.delete(appId);
    }
  }

  #meterSynced(app: App): boolean {
    const metered = this.#metered.get(app.appId);
    if (app.status === 'stopping') return metered === 'stopped';
    return metered === String(app.desiredReplicas);
  }

  #sendStarts(app: App, next: Plan): void {
    const now = Date.now();
    for (const replica of next.start) {
      if (now - (this.#sent.get(replica.replicaId) ?? 0) < this.config.resendMs) continue;
      this.#sent.set(replica.replicaId, now);
      const spec = app.rollout && replica.version === app.rollout.spec.version ? app.rollout.spec : app.spec;
      this.agents.start(replica.nodeId, startMessage(app, spec, replica.replicaId, this.config.secrets));
    }
  }

  /** Replicas a node runs that no app wants (stopped, failed, rolled back, or unknown): stop them. */
  #stopOrphans(nodeId: string, replicas: { replicaId: string; appId: string; state: string }[]): void {
    if (!this.leading) return;
    const now = Date.now();
    for (const reported of replicas) {
      if (reported.state === 'stopped' || reported.state === 'stopping' || reported.state === 'failed') continue;
      const app = this.directory.get(reported.appId);
      const replica = app?.replicas.get(reported.replicaId);
      // A replica scheduled a moment ago may be reported before the directory has its placement.
      if (replica ? isLive(replica) : app && now - Date.parse(app.updatedAt) < 5000) continue;
      if (now - (this.#sent.get(reported.replicaId) ?? 0) < this.config.resendMs) continue;
      this.#sent.set(reported.replicaId, now);
      this.agents.stop(nodeId, { replicaId: reported.replicaId, reason: replica ? 'the replica was stopped' : 'no app wants this replica' });
    }
  }

  async #carryOut(app: App, step: Step): Promise<void> {
    switch (step.kind) {
      case 'idle':
        return;
      case 'append':
        return this.#append(app, step.events);
      case 'reserve': {
        const { rollout } = step;
        const reply = await this.client.send(ReserveCredits, {
          tenant: app.tenant,
          reservationId: rollout.rolloutId,
          appId: app.appId,
          replicas: rollout.spec.replicas,
          resources: rollout.spec.resources,
          purpose: rollout.kind,
        });
        if (!reply.ok) return this.#refused(app, step, reply.error);
        return this.#append(app, [
          {
            type: AppCreditsReserved.type,
            data: { appId: app.appId, rolloutId: rollout.rolloutId, reservationId: reply.result.reservationId, total: reply.result.total, currency: reply.result.currency, at: now() },
          },
        ]);
      }
      case 'convert': {
        const { rollout } = step;
        const reply = await this.client.send(ConvertCredits, { tenant: app.tenant, reservationId: rollout.reservationId! });
        if (!reply.ok) return this.#refused(app, step, reply.error);
        return this.#append(app, [
          {
            type: AppCreditsConverted.type,
            data: { appId: app.appId, rolloutId: rollout.rolloutId, usd: reply.result.usd, tft: reply.result.tft, tftUsdRate: reply.result.tftUsdRate, at: now() },
          },
        ]);
      }
      case 'schedule':
        return this.#schedule(app, step);
      case 'capture': {
        const { rollout } = step;
        const reply = await this.client.send(CaptureReservation, { tenant: app.tenant, reservationId: rollout.reservationId!, nodes: step.nodes });
        if (!reply.ok) return this.#refused(app, step, reply.error);
        this.#metered.set(app.appId, String(rollout.spec.replicas));
        return this.#append(app, [
          { type: AppActivated.type, data: { appId: app.appId, rolloutId: rollout.rolloutId, version: rollout.spec.version, captured: reply.result.captured, at: now() } },
        ]);
      }
      case 'release': {
        const { rollout } = step;
        const reply = await this.client.send(ReleaseReservation, { tenant: app.tenant, reservationId: rollout.reservationId!, reason: rollout.abort?.reason.slice(0, 500) ?? 'the rollout failed' });
        if (!reply.ok) return this.#retryLater(app, reply.error);
        return this.#append(app, [
          { type: AppCreditsRefunded.type, data: { appId: app.appId, rolloutId: rollout.rolloutId, reservationId: rollout.reservationId!, amount: reply.result.released, at: now() } },
        ]);
      }
      case 'meter-update': {
        const nodes = [...app.replicas.values()].filter((replica) => isLive(replica) && replica.version === app.spec.version).map((replica) => replica.nodeId);
        const reply = await this.client.send(UpdateMeter, { tenant: app.tenant, appId: app.appId, replicas: app.desiredReplicas, resources: app.spec.resources, nodes });
        if (!reply.ok && reply.error.code !== ErrorCodes.NotFound) return this.#retryLater(app, reply.error);
        this.#metered.set(app.appId, String(app.desiredReplicas));
        return;
      }
      case 'meter-stop': {
        const reply = await this.client.send(StopMeter, { tenant: app.tenant, appId: app.appId });
        if (!reply.ok && reply.error.code !== ErrorCodes.NotFound) return this.#retryLater(app, reply.error);
        this.#metered.set(app.appId, 'stopped');
        return;
      }
    }
  }

  async #schedule(app: App, step: Extract<Step, { kind: 'schedule' }>): Promise<void> {
    const reply = await this.#aliveNodes();
    if (!reply.ok) return this.#retryLater(app, reply.error);
    const { spec } = step;
    const allocated = this.#allocated();
    // Placement is by what is promised, like a reservation, not by the load of the moment: a node's
    // free resources are its capacity less what its replicas were given.
    const nodes = reply.result.nodes.map((node) => {
      const taken = allocated.get(node.nodeId) ?? { cpu: 0, memoryMiB: 0, storageGiB: 0 };
      return {
        ...node,
        free: {
          cpuCores: Math.max(0, node.capabilities.cpuCores - taken.cpu),
          memoryMiB: Math.max(0, node.capabilities.memoryMiB - taken.memoryMiB),
          diskGiB: Math.max(0, node.capabilities.diskGiB - taken.storageGiB),
        },
      };
    });
    const result = placeReplicas(nodes, {
      replicas: step.count,
      resources: spec.resources,
      constraints: spec.placement,
      existing: step.spreadFrom.map((replica) => ({ nodeId: replica.nodeId, region: replica.region })),
      // Spread first; stack only when the grid has fewer nodes than replicas (docs/adr/0014).
      allowColocation: true,
    });
    if (!result.ok) {
      if (step.rolloutId && app.rollout) return this.#carryOut(app, abortStep(app, app.rollout, result.error.code, result.error.message, Date.now()));
      // A running app short of replicas waits for a node to fit.
      return this.#retryLater(app, { code: result.error.code, message: result.error.message }, 5000);
    }
    await this.#append(app, [
      {
        type: AppReplicasScheduled.type,
        data: {
          appId: app.appId,
          ...(step.rolloutId ? { rolloutId: step.rolloutId } : {}),
          placements: result.placements.map((placement) => ({ replicaId: `${spec.name}-${randomBytes(4).toString('hex')}`, nodeId: placement.nodeId, region: placement.region, version: spec.version })),
          at: now(),
        },
      },
    ]);
  }

  /** What every node's live replicas were given, by node. */
  #allocated(): Map<string, ReplicaResources> {
    const allocated = new Map<string, ReplicaResources>();
    for (const app of this.directory.all()) {
      for (const replica of app.replicas.values()) {
        if (!isLive(replica)) continue;
        const resources = (app.rollout && replica.version === app.rollout.spec.version ? app.rollout.spec : app.spec).resources;
        const sum = allocated.get(replica.nodeId) ?? { cpu: 0, memoryMiB: 0, storageGiB: 0 };
        allocated.set(replica.nodeId, { cpu: sum.cpu + resources.cpu, memoryMiB: sum.memoryMiB + resources.memoryMiB, storageGiB: sum.storageGiB + resources.storageGiB });
      }
    }
    return allocated;
  }

  /** A refusal ends a rollout (no credits, no price); a passing failure is tried again. */
  async #refused(app: App, step: Step, error: CommandError): Promise<void> {
    const passing: string[] = [ErrorCodes.ServiceUnavailable, ErrorCodes.Timeout, ErrorCodes.Internal, ErrorCodes.Conflict];
    if (passing.includes(error.code) || !app.rollout) return this.#retryLater(app, error);
    this.logger.info({ appId: app.appId, code: error.code, step: step.kind }, `rollout refused: ${error.message}`);
    return this.#carryOut(app, abortStep(app, app.rollout, error.code, error.message, Date.now()));
  }

  #retryLater(app: App, error: CommandError, ms = 1000): void {
    this.logger.warn({ appId: app.appId, code: error.code }, `saga step postponed: ${error.message}`);
    this.#notBefore.set(app.appId, Date.now() + ms);
  }

  async #append(app: App, events: AppEvent[]): Promise<void> {
    try {
      const result = await this.store.append(
        `${APP_STREAM_PREFIX}${app.appId}`,
        events.map((event) => ({ type: event.type, data: event.data, metadata: { tenant: app.tenant, ...(app.rollout?.correlationId ? { correlationId: app.rollout.correlationId } : {}) } })),
        { expectedVersion: app.version },
      );
      await this.directory.waitFor(app.appId, result.nextExpectedVersion);
    } catch (error) {
      // Someone (a command) appended first: plan again on the fresher state.
      if (!isWrongExpectedVersion(error)) throw error;
      this.#nudge(app.appId);
    }
  }
}

const now = () => new Date().toISOString();
