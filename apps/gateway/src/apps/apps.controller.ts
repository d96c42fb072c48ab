import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  type AppEventEntry,
  type AppSpecV1,
  type AppView,
  DeleteApp,
  DeployApp,
  GetApp,
  GetAppEvents,
  GetAppLogs,
  ListApps,
  RollbackApp,
  type RollbackResult,
  ScaleApp,
  StopApp,
  UpdateApp,
} from '@mycelium/contracts';
import { COMMAND_CLIENT, type CommandClient } from '@mycelium/messaging';
import { answer } from '../http/replies.js';
import { Tenant } from '../http/tenant.js';
import { RequiresScope } from '../keys/api-key.guard.js';
import { ErrorDto } from '../nodes/node.dto.js';
import { integerIn } from './query.js';

/** Where a client follows a rollout it started. */
function links(appId: string) {
  return { self: `/v1/apps/${appId}`, events: `/v1/apps/${appId}/events` };
}

/**
 * Apps of the caller's tenant. Bodies are checked where the command is handled (the deployment
 * service validates every field and names the one at fault), so the REST API and NATS clients get
 * the same answers.
 */
@ApiTags('apps')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'no key, or an unknown one', type: ErrorDto })
@ApiResponse({ status: 404, description: 'no such app for this tenant', type: ErrorDto })
@Controller('v1/apps')
export class AppsController {
  constructor(@Inject(COMMAND_CLIENT) private readonly client: CommandClient) {}

  @Post()
  @HttpCode(202)
  @RequiresScope('apps:write')
  @ApiOperation({
    summary: 'Deploy an app',
    description:
      'Starts the deploy saga: credits reserved → queued → converting → scheduled → starting → healthy → active; on failure everything started is stopped and the reservation refunded. Answers 202 at once; follow `links.events`.',
  })
  @ApiBody({ description: 'the app spec: name, version, replicas, workload.command, resources, env, health, placement, strategy', schema: { type: 'object' } })
  @ApiResponse({ status: 400, description: 'a field is invalid; `field` names it', type: ErrorDto })
  @ApiResponse({ status: 409, description: 'an app of that name runs already', type: ErrorDto })
  @ApiResponse({ status: 422, description: 'a workload no node can run (an image)', type: ErrorDto })
  async deploy(@Tenant() tenant: string, @Body() spec: AppSpecV1) {
    const result = answer(await this.client.send(DeployApp, { tenant, spec }), 'spec.');
    return { ...result, links: links(result.appId) };
  }

  @Get()
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'The tenant’s apps' })
  @ApiQuery({ name: 'name', required: false })
  async list(@Tenant() tenant: string, @Query('name') name?: string): Promise<{ apps: AppView[] }> {
    return answer(await this.client.send(ListApps, { tenant, ...(name !== undefined ? { name } : {}) }));
  }

  @Get(':id')
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'One app: status, replicas, rollout' })
  @ApiParam({ name: 'id', description: 'app id (app_…)' })
  async get(@Tenant() tenant: string, @Param('id') appId: string): Promise<AppView> {
    return answer(await this.client.send(GetApp, { tenant, appId }));
  }

  @Put(':id')
  @HttpCode(202)
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'Roll the app to a new version', description: 'One replica at a time, each health-gated; back to the last good version when the new one does not become healthy.' })
  @ApiBody({ description: 'the new app spec (same name)', schema: { type: 'object' } })
  async update(@Tenant() tenant: string, @Param('id') appId: string, @Body() spec: AppSpecV1) {
    const result = answer(await this.client.send(UpdateApp, { tenant, appId, spec }), 'spec.');
    return { ...result, links: links(appId) };
  }

  @Post(':id/scale')
  @HttpCode(200)
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'Change the number of replicas' })
  @ApiBody({ schema: { type: 'object', properties: { replicas: { type: 'integer', minimum: 1 } }, required: ['replicas'] } })
  async scale(@Tenant() tenant: string, @Param('id') appId: string, @Body() body: { replicas?: unknown }): Promise<AppView> {
    return answer(await this.client.send(ScaleApp, { tenant, appId, replicas: body?.replicas as number }));
  }

  @Post(':id/rollback')
  @HttpCode(200)
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'Return the app to the version and scale it had at a moment', description: 'Through an ordinary update (or scale): new events, history untouched. `to` is a log position or an RFC 3339 time.' })
  @ApiBody({ schema: { type: 'object', properties: { to: { type: 'string', example: '2026-12-03T10:00:00Z' } }, required: ['to'] } })
  async rollback(@Tenant() tenant: string, @Param('id') appId: string, @Body() body: { to?: unknown }): Promise<RollbackResult> {
    return answer(await this.client.send(RollbackApp, { tenant, appId, to: body?.to as string }));
  }

  @Post(':id/stop')
  @HttpCode(200)
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'Stop every replica' })
  async stop(@Tenant() tenant: string, @Param('id') appId: string): Promise<AppView> {
    return answer(await this.client.send(StopApp, { tenant, appId }));
  }

  @Delete(':id')
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'Stop the app and remove it from lists (its history stays)' })
  async remove(@Tenant() tenant: string, @Param('id') appId: string): Promise<AppView> {
    return answer(await this.client.send(DeleteApp, { tenant, appId }));
  }

  @Get(':id/events')
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'The app’s events, oldest first: the saga’s steps', description: 'Pass `after` (a stream version) to get only newer ones.' })
  @ApiQuery({ name: 'after', required: false, type: Number })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  async events(@Tenant() tenant: string, @Param('id') appId: string, @Query() query: Record<string, unknown>): Promise<{ events: AppEventEntry[]; streamVersion: number }> {
    const after = integerIn(query, 'after');
    const limit = integerIn(query, 'limit');
    return answer(await this.client.send(GetAppEvents, { tenant, appId, ...(after !== undefined ? { after } : {}), ...(limit !== undefined ? { limit } : {}) }));
  }

  @Get(':id/logs')
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'The newest log lines of the app’s replicas' })
  @ApiQuery({ name: 'replica', required: false })
  @ApiQuery({ name: 'tail', required: false, type: Number })
  async logs(@Tenant() tenant: string, @Param('id') appId: string, @Query() query: Record<string, unknown>) {
    const tail = integerIn(query, 'tail');
    const replicaId = typeof query.replica === 'string' ? query.replica : undefined;
    return answer(await this.client.send(GetAppLogs, { tenant, appId, ...(replicaId ? { replicaId } : {}), ...(tail !== undefined ? { tail } : {}) }));
  }
}
