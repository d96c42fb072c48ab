import { randomBytes, randomUUID } from 'node:crypto';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  type AppEventEntry,
  type AppRoute,
  type AppView,
  CommandRejection,
  DeleteApp,
  type DeleteAppV1,
  DeployApp,
  type DeployAppV1,
  ErrorCodes,
  EvacuateNode,
  type EvacuateNodeV1,
  GetApp,
  RetireReplica,
  RollbackApp,
  type RollbackAppV1,
  type RollbackResult,
  type RetireReplicaV1,
  GetAppEvents,
  type GetAppEventsV1,
  GetAppLogs,
  type GetAppLogsV1,
  type GetAppV1,
  ListApps,
  type ListAppsV1,
  ListRoutes,
  type ListRoutesV1,
  type LogLine,
  ScaleApp,
  type ScaleAppV1,
  StopApp,
  type StopAppV1,
  SuspendApp,
  type SuspendAppV1,
  UpdateApp,
  type UpdateAppV1,
} from '@mycelium/contracts';
import { type EventStore, handleCommand, parseLogPoint } from '@mycelium/eventstore';
import { type CommandContext, EVENT_STORE, OnCommand } from '@mycelium/messaging';
import { AgentLink } from '../agents/agent-link.js';
import { ReplicaObservations } from '../agents/replica-observations.js';
import { DEPLOYMENT_CONFIG, type DeploymentConfig } from '../deployment.config.js';
import { APP_STREAM_PREFIX, AppDirectory } from '../directory/app-directory.js';
import { type App, type AppEvent, evolve, foldApp, isLive, viewOf } from '../domain/app.js';
import { type AppCommand, decide } from '../domain/decide.js';
import { storedSpec } from '../domain/spec.js';

const appDecider = {
  decide,
  evolve: (state: App | undefined, event: AppEvent) => evolve(state, event),
  initialState: (): App | undefined => undefined,
};

/** Apps: deploy, update, scale, stop, delete, read; and the ingress' route list. */
@Controller()
export class AppsHandlers {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(DEPLOYMENT_CONFIG) private readonly config: DeploymentConfig,
    private readonly directory: AppDirectory,
    private readonly observations: ReplicaObservations,
    private readonly agents: AgentLink,
  ) {}

  @OnCommand(DeployApp)
  async deploy(@Payload() request: DeployAppV1, @Ctx() ctx: CommandContext): Promise<{ appId: string; rolloutId: string; streamVersion: number }> {
    await this.directory.ready;
    const existing = this.directory.byName(request.tenant, request.spec.name);
    if (existing) {
      throw new CommandRejection({
        code: ErrorCodes.Conflict,
        message: `app ${request.spec.name} is ${existing.status} already (${existing.appId}): update it to a new version (PUT /v1/apps/${existing.appId}, or \`myc deploy\` with a new version), or stop it first`,
        field: 'spec.name',
        details: { appId: existing.appId },
      });
    }
    const appId = `app_${randomBytes(8).toString('hex')}`;
    const rolloutId = randomUUID();
    const spec = storedSpec(request.spec, appId, this.config.secrets);
    const version = await this.#execute(appId, { type: 'Deploy', appId, rolloutId, tenant: request.tenant, spec, now: now() }, ctx, request.tenant);
    await this.#refusedAtOnce(appId, rolloutId);
    return { appId, rolloutId, streamVersion: version };
  }

  @OnCommand(UpdateApp)
  async update(@Payload() request: UpdateAppV1, @Ctx() ctx: CommandContext): Promise<{ appId: string; rolloutId: string; streamVersion: number }> {
    this.#owned(request.appId, request.tenant);
    const rolloutId = randomUUID();
    const spec = storedSpec(request.spec, request.appId, this.config.secrets);
    const version = await this.#execute(request.appId, { type: 'Update', rolloutId, spec, now: now() }, ctx, request.tenant);
    await this.#refusedAtOnce(request.appId, rolloutId);
    return { appId: request.appId, rolloutId, streamVersion: version };
  }

  @OnCommand(ScaleApp)
  async scale(@Payload() request: ScaleAppV1, @Ctx() ctx: CommandContext): Promise<AppView> {
    this.#owned(request.appId, request.tenant);
    await this.#execute(request.appId, { type: 'Scale', replicas: request.replicas, now: now() }, ctx, request.tenant);
    return viewOf(this.directory.get(request.appId)!);
  }

  @OnCommand(RollbackApp)
  async rollback(@Payload() request: RollbackAppV1, @Ctx() ctx: CommandContext): Promise<RollbackResult> {
    const current = this.#owned(request.appId, request.tenant);
    const point = parseLogPoint(request.to)!;
    // 1. The app as it was then, from its own stream.
    const history = await this.store.readStream(`${APP_STREAM_PREFIX}${request.appId}`);
    const then = foldApp(history.filter((event) => ('position' in point ? event.position <= point.position : event.recordedAt <= point.time)) as unknown as AppEvent[]);
    if (!then) throw new CommandRejection({ code: ErrorCodes.NotFound, message: `app ${request.appId} did not exist at ${request.to}`, field: 'to' });
    // 2. The version in force then (not one a rollout was still trying), at the scale it had.
    const { version } = then.spec;
    const replicas = then.desiredReplicas;
    if (version !== current.spec.version) {
      const rolloutId = randomUUID();
      await this.#execute(request.appId, { type: 'Update', rolloutId, spec: { ...then.spec, replicas }, now: now() }, ctx, request.tenant);
      await this.#refusedAtOnce(request.appId, rolloutId);
      return { appId: request.appId, action: 'update', version, replicas, rolloutId };
    }
    if (replicas !== current.desiredReplicas) {
      await this.#execute(request.appId, { type: 'Scale', replicas, now: now() }, ctx, request.tenant);
      return { appId: request.appId, action: 'scale', version, replicas };
    }
    return { appId: request.appId, action: 'none', version, replicas };
  }

  @OnCommand(StopApp)
  async stop(@Payload() request: StopAppV1, @Ctx() ctx: CommandContext): Promise<AppView> {
    this.#owned(request.appId, request.tenant);
    await this.#execute(request.appId, { type: 'Stop', mode: 'stop', reason: request.reason ?? 'stopped by its owner', now: now() }, ctx, request.tenant);
    return viewOf(this.directory.get(request.appId)!);
  }

  @OnCommand(DeleteApp)
  async delete(@Payload() request: DeleteAppV1, @Ctx() ctx: CommandContext): Promise<AppView> {
    this.#owned(request.appId, request.tenant);
    await this.#execute(request.appId, { type: 'Stop', mode: 'delete', reason: request.reason ?? 'deleted by its owner', now: now() }, ctx, request.tenant);
    return viewOf(this.directory.get(request.appId)!);
  }

  @OnCommand(SuspendApp)
  async suspend(@Payload() request: SuspendAppV1, @Ctx() ctx: CommandContext): Promise<{ suspended: boolean }> {
    await this.directory.ready;
    this.#owned(request.appId, request.tenant);
    await this.#execute(request.appId, { type: 'Stop', mode: 'suspend', reason: request.reason, now: now() }, ctx, request.tenant);
    return { suspended: true };
  }

  @OnCommand(EvacuateNode)
  async evacuate(@Payload() request: EvacuateNodeV1, @Ctx() ctx: CommandContext): Promise<{ replicas: { appId: string; replicaId: string }[] }> {
    await this.directory.ready;
    const evacuated: { appId: string; replicaId: string }[] = [];
    const reason = `node ${request.nodeId} evacuated: ${request.reason}`.slice(0, 500);
    for (const app of this.directory.all()) {
      const onNode = [...app.replicas.values()].filter((replica) => replica.nodeId === request.nodeId && isLive(replica)).map((replica) => replica.replicaId);
      if (onNode.length === 0) continue;
      await this.#execute(app.appId, { type: 'Fail', replicaIds: onNode, reason, now: now() }, ctx, app.tenant);
      evacuated.push(...onNode.map((replicaId) => ({ appId: app.appId, replicaId })));
    }
    return { replicas: evacuated };
  }

  @OnCommand(RetireReplica)
  async retire(@Payload() request: RetireReplicaV1, @Ctx() ctx: CommandContext): Promise<{ retired: boolean }> {
    await this.directory.ready;
    const app = this.#owned(request.appId, undefined);
    const replica = app.replicas.get(request.replicaId);
    if (!replica || !isLive(replica)) return { retired: false };
    await this.#execute(app.appId, { type: 'Fail', replicaIds: [replica.replicaId], reason: request.reason, now: now() }, ctx, app.tenant);
    return { retired: true };
  }

  @OnCommand(GetApp)
  async get(@Payload() request: GetAppV1): Promise<AppView> {
    await this.directory.ready;
    return viewOf(this.#owned(request.appId, request.tenant));
  }

  @OnCommand(ListApps)
  async list(@Payload() request: ListAppsV1): Promise<{ apps: AppView[] }> {
    await this.directory.ready;
    const apps = this.directory
      .all()
      .filter((app) => (!request.tenant || app.tenant === request.tenant) && (!request.name || app.spec.name === request.name) && app.status !== 'deleted')
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    return { apps: apps.map(viewOf) };
  }

  @OnCommand(GetAppEvents)
  async events(@Payload() request: GetAppEventsV1): Promise<{ events: AppEventEntry[]; streamVersion: number }> {
    await this.directory.ready;
    const app = this.#owned(request.appId, request.tenant);
    const events = await this.store.readStream(`${APP_STREAM_PREFIX}${app.appId}`, { fromVersion: (request.after ?? 0) + 1, maxCount: request.limit ?? 200 });
    return {
      events: events.map((event) => ({
        version: event.streamVersion,
        type: event.type,
        at: event.recordedAt.toISOString(),
        position: event.position.toString(),
        data: event.data as Record<string, unknown>,
      })),
      streamVersion: events.at(-1)?.streamVersion ?? app.version,
    };
  }

  @OnCommand(GetAppLogs)
  async logs(@Payload() request: GetAppLogsV1): Promise<{ replicas: { replicaId: string; nodeId: string; lines: LogLine[]; error?: string }[] }> {
    await this.directory.ready;
    const app = this.#owned(request.appId, request.tenant);
    const replicas = [...app.replicas.values()].filter((replica) => (request.replicaId ? replica.replicaId === request.replicaId : isLive(replica)));
    if (request.replicaId && replicas.length === 0) {
      throw new CommandRejection({ code: ErrorCodes.NotFound, message: `app ${app.appId} has no replica ${request.replicaId}: see \`myc status ${app.spec.name}\``, field: 'replicaId' });
    }
    return {
      replicas: await Promise.all(
        replicas.map(async (replica) => {
          const reply = await this.agents.logs(replica.nodeId, { replicaId: replica.replicaId, tail: request.tail ?? 200 });
          return reply.ok
            ? { replicaId: replica.replicaId, nodeId: replica.nodeId, lines: reply.lines }
            : { replicaId: replica.replicaId, nodeId: replica.nodeId, lines: [], error: reply.error.message };
        }),
      ),
    };
  }

  @OnCommand(ListRoutes)
  async routes(@Payload() request: ListRoutesV1): Promise<{ routes: AppRoute[] }> {
    await this.directory.ready;
    const routes: AppRoute[] = [];
    for (const app of this.directory.all()) {
      if (request.tenant && app.tenant !== request.tenant) continue;
      if (!['active', 'updating', 'deploying'].includes(app.status)) continue;
      const replicas = [...app.replicas.values()].filter((replica) => {
        if (replica.status !== 'healthy' || !replica.address) return false;
        // The node's latest word beats the log's: a replica that stopped answering takes no traffic.
        const seen = this.observations.get(replica.replicaId);
        return !seen || seen.report.state === 'healthy';
      });
      if (replicas.length === 0 && app.status === 'deploying') continue;
      routes.push({
        appId: app.appId,
        tenant: app.tenant,
        name: app.spec.name,
        strategy: app.spec.strategy,
        replicas: replicas.map((replica) => ({ replicaId: replica.replicaId, nodeId: replica.nodeId, address: replica.address!, weight: 1 })),
      });
    }
    return { routes };
  }

  /**
   * A rollout the tenant cannot pay for is refused to the caller, not only recorded: wait for the
   * saga's first step (credits reserved, or the refusal), briefly. The failed rollout stays in the
   * log, for the record; nothing was scheduled or charged.
   */
  async #refusedAtOnce(appId: string, rolloutId: string): Promise<void> {
    const app = await this.directory.waitUntil(appId, (current) => current.rollout?.rolloutId !== rolloutId || current.rollout.reservationId !== undefined || current.rollout.abort !== undefined, RESERVE_WAIT_MS);
    const abort = app?.rollout?.rolloutId === rolloutId ? app.rollout.abort : app?.lastFailure;
    if (abort?.code === 'INSUFFICIENT_CREDITS') {
      throw new CommandRejection({ code: abort.code, message: abort.reason, details: { appId, rolloutId } });
    }
  }

  /** The app, if the tenant may see it; another tenant's app is as good as absent. */
  #owned(appId: string, tenant: string | undefined): App {
    const app = this.directory.get(appId);
    if (!app || app.status === 'deleted' || (tenant !== undefined && app.tenant !== tenant)) {
      throw new CommandRejection({ code: ErrorCodes.NotFound, message: `no app ${appId}: list yours with \`myc apps\` (GET /v1/apps)`, field: 'appId' });
    }
    return app;
  }

  async #execute(appId: string, command: AppCommand, ctx: CommandContext, tenant: string): Promise<number> {
    await this.directory.ready;
    const result = await handleCommand(this.store, `${APP_STREAM_PREFIX}${appId}`, appDecider, command, { metadata: { ...ctx.eventMetadata, tenant } });
    // Answer with what the caller will read next: the directory holds its change.
    await this.directory.waitFor(appId, result.version);
    return result.version;
  }
}

const now = () => new Date().toISOString();

/** How long a deploy waits for billing's answer before it answers itself (the saga goes on regardless). */
const RESERVE_WAIT_MS = 5000;
