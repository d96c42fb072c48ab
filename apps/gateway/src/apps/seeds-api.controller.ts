import { Body, Controller, Get, HttpCode, HttpException, Inject, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { type AppSpecV1, type AppView, DeployApp, GetApp, ListApps, ScaleApp, StopApp } from '@mycelium/contracts';
import { COMMAND_CLIENT, type CommandClient } from '@mycelium/messaging';
import { answer } from '../http/replies.js';
import { Tenant } from '../http/tenant.js';
import { RequiresScope } from '../keys/api-key.guard.js';

/** The app deployment API's original request shape (snake_case, sizes as "256m" / "1G"). */
interface SeedsDeployRequest {
  name?: unknown;
  version?: unknown;
  image?: unknown;
  /** argv for the process runtime; the original API ran images only. */
  command?: unknown;
  replicas?: unknown;
  resource_requirements?: { memory?: unknown; cpu?: unknown; storage?: unknown };
  network_config?: { ports?: Record<string, unknown> };
  runtime_config?: { environment?: Record<string, unknown>; command?: unknown };
  strategy?: unknown;
}

const invalid = (field: string, message: string) => new HttpException({ error: { code: 'VALIDATION_FAILED', message, field } }, 400);

/** "512m", "1G", "1.5g" → MiB (or GiB with `unit: 'GiB'`). */
function size(text: unknown, field: string, unit: 'MiB' | 'GiB'): number | undefined {
  if (text === undefined) return undefined;
  const match = typeof text === 'string' ? /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim()) : null;
  if (!match) throw invalid(field, `${field} must be a size such as "256m" or "1G", not ${JSON.stringify(text)}`);
  const mib = Number(match[1]) * { '': 1 / 1_048_576, k: 1 / 1024, m: 1, g: 1024, t: 1_048_576 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return unit === 'MiB' ? Math.ceil(mib) : Math.ceil(mib / 1024);
}

function cores(text: unknown): number | undefined {
  if (text === undefined) return undefined;
  const value = typeof text === 'number' ? text : typeof text === 'string' && /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isFinite(value)) throw invalid('resource_requirements.cpu', `resource_requirements.cpu must be a number of cores such as "0.5", not ${JSON.stringify(text)}`);
  return value;
}

/** The original request as this grid's app spec; unknown or malformed parts are named. */
export function fromSeedsRequest(body: SeedsDeployRequest): AppSpecV1 {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('body', 'the body must be a JSON object');
  const resources = body.resource_requirements ?? {};
  const environment = body.runtime_config?.environment ?? {};
  if (typeof environment !== 'object' || Array.isArray(environment)) throw invalid('runtime_config.environment', 'runtime_config.environment must be an object of names to values');
  const command = body.command ?? body.runtime_config?.command;
  return {
    name: body.name as string,
    version: body.version as string,
    replicas: (body.replicas ?? 1) as number,
    workload: { ...(command !== undefined ? { command: command as string[] } : {}), ...(body.image !== undefined ? { image: body.image as string } : {}) },
    resources: {
      cpu: cores(resources.cpu) ?? 1,
      memoryMiB: size(resources.memory, 'resource_requirements.memory', 'MiB') ?? 512,
      storageGiB: size(resources.storage, 'resource_requirements.storage', 'GiB') ?? 0,
    },
    env: Object.entries(environment).map(([name, value]) => ({ name, value: String(value) })),
    ...(body.strategy !== undefined ? { strategy: body.strategy as AppSpecV1['strategy'] } : {}),
  };
}

function seedsStatus(app: AppView) {
  return {
    app_id: app.appId,
    name: app.name,
    version: app.version,
    status: app.status,
    replicas: app.desiredReplicas,
    healthy_replicas: app.healthyReplicas,
    instances: app.replicas.map((replica) => ({ instance_id: replica.replicaId, node_id: replica.nodeId, status: replica.status, address: replica.address ?? null })),
    created_at: app.createdAt,
  };
}

const appIdOf = (body: { app_id?: unknown }) => {
  if (typeof body?.app_id !== 'string') throw invalid('app_id', 'app_id is required: the id deploy_app answered');
  return body.app_id;
};

/** The seeds' app deployment API, same request fields, for clients written against it. */
@ApiTags('apps (compatibility)')
@ApiBearerAuth()
@Controller('api/apps')
export class SeedsAppsController {
  constructor(@Inject(COMMAND_CLIENT) private readonly client: CommandClient) {}

  @Post('deploy_app')
  @HttpCode(202)
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'Deploy an app (original request shape)', description: 'Give `command` (argv) for the process runtime; `image` is refused until a node offers a container runtime.' })
  @ApiBody({ schema: { type: 'object' } })
  async deploy(@Tenant() tenant: string, @Body() body: SeedsDeployRequest) {
    const result = answer(await this.client.send(DeployApp, { tenant, spec: fromSeedsRequest(body) }), 'spec.');
    return { app_id: result.appId, deployment_id: result.rolloutId, status: 'deploying' };
  }

  @Get('list_apps')
  @RequiresScope('apps:write')
  async list(@Tenant() tenant: string) {
    const { apps } = answer(await this.client.send(ListApps, { tenant }));
    return { apps: apps.map(seedsStatus) };
  }

  @Get('get_app_status')
  @RequiresScope('apps:write')
  @ApiQuery({ name: 'app_id', required: true })
  async status(@Tenant() tenant: string, @Query('app_id') appId: unknown) {
    return seedsStatus(answer(await this.client.send(GetApp, { tenant, appId: appIdOf({ app_id: appId }) })));
  }

  @Post('stop_app')
  @HttpCode(200)
  @RequiresScope('apps:write')
  async stop(@Tenant() tenant: string, @Body() body: { app_id?: unknown }) {
    return seedsStatus(answer(await this.client.send(StopApp, { tenant, appId: appIdOf(body) })));
  }

  @Post('scale_app')
  @HttpCode(200)
  @RequiresScope('apps:write')
  async scale(@Tenant() tenant: string, @Body() body: { app_id?: unknown; replicas?: unknown }) {
    return seedsStatus(answer(await this.client.send(ScaleApp, { tenant, appId: appIdOf(body), replicas: body.replicas as number })));
  }
}
