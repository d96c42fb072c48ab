import { Controller, Get, HttpException, Inject, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { type CommandError, type CommandReply, GetNode, QueryNodes, type QueryNodesV1 } from '@mycelium/contracts';
import { COMMAND_CLIENT, type CommandClient } from '@mycelium/messaging';
import { ApiKeyGuard, RequiresScope } from '../keys/api-key.guard.js';
import { ErrorDto, NodeDetailDto, NodeListDto } from './node.dto.js';

const STATUS: Record<string, number> = {
  VALIDATION_FAILED: 400,
  NOT_FOUND: 404,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
};

/** The typed error of a command, as an HTTP error with the same body everywhere: `{ error }`. */
function answer<T>(reply: CommandReply<T>): T {
  if (reply.ok) return reply.result;
  const error: CommandError = reply.error;
  throw new HttpException({ error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } }, STATUS[error.code] ?? 502);
}

const NUMERIC = ['minFreeCpu', 'minFreeMemoryMiB', 'minFreeDiskGiB', 'minUptime', 'limit'] as const;

@ApiTags('nodes')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'no key, or an unknown one', type: ErrorDto })
@Controller('v1/nodes')
@UseGuards(ApiKeyGuard)
export class NodesController {
  constructor(@Inject(COMMAND_CLIENT) private readonly client: CommandClient) {}

  @Get()
  @RequiresScope('nodes:read')
  @ApiOperation({ summary: 'Nodes of the grid (the primary spore)', description: 'Most available first: uptime, then free resources. Every filter is optional.' })
  @ApiQuery({ name: 'status', required: false, enum: ['alive', 'late', 'suspected', 'down', 'left'] })
  @ApiQuery({ name: 'tier', required: false, enum: ['sclerotia', 'rhizomorph', 'hyphae'] })
  @ApiQuery({ name: 'region', required: false })
  @ApiQuery({ name: 'minFreeCpu', required: false, type: Number })
  @ApiQuery({ name: 'minFreeMemoryMiB', required: false, type: Number })
  @ApiQuery({ name: 'minFreeDiskGiB', required: false, type: Number })
  @ApiQuery({ name: 'minUptime', required: false, type: Number, description: 'percent of the last 24 h' })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiOkResponse({ type: NodeListDto })
  @ApiResponse({ status: 400, description: 'a filter is invalid; `field` names it', type: ErrorDto })
  async list(@Query() query: Record<string, string>): Promise<NodeListDto> {
    // Query strings are text; spores validates the filters (and refuses unknown ones).
    const filters: Record<string, unknown> = { ...query };
    for (const name of NUMERIC) if (query[name] !== undefined) filters[name] = query[name] === '' ? Number.NaN : Number(query[name]);
    return answer(await this.client.send(QueryNodes, filters as QueryNodesV1));
  }

  @Get(':id')
  @RequiresScope('nodes:read')
  @ApiOperation({ summary: 'One node, with its history' })
  @ApiParam({ name: 'id', description: 'node id (20 hex characters)' })
  @ApiOkResponse({ type: NodeDetailDto })
  @ApiResponse({ status: 404, description: 'no such node', type: ErrorDto })
  async get(@Param('id') id: string): Promise<NodeDetailDto> {
    return answer(await this.client.send(GetNode, { nodeId: id, history: true }));
  }
}
