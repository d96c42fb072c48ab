import { Controller, Get, HttpException, Inject, Param, Query } from '@nestjs/common';
import { answer } from '../http/replies.js';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  DEFAULT_HISTORY_LIMIT,
  GetNode,
  MAX_HISTORY_LIMIT,
  QueryNodes,
  type QueryNodesV1,
} from '@mycelium/contracts';
import { COMMAND_CLIENT, type CommandClient } from '@mycelium/messaging';
import { RequiresScope } from '../keys/api-key.guard.js';
import { ErrorDto, NodeDetailDto, NodeListDto } from './node.dto.js';

const NUMERIC = ['minFreeCpu', 'minFreeMemoryMiB', 'minFreeDiskGiB', 'minUptime', 'limit'] as const;

/**
 * A numeric query parameter as a number. Query strings are text, and `Number('abc')` is NaN, which
 * JSON turns into null, which spores reads as "no filter": so refuse anything not a finite number.
 */
function numberIn(query: Record<string, unknown>, name: string): number | undefined {
  const text = query[name];
  if (text === undefined) return undefined;
  const value = typeof text === 'string' && text.trim() !== '' ? Number(text) : Number.NaN;
  if (!Number.isFinite(value)) {
    const given = Array.isArray(text) ? ` given once, not ${text.length} times` : `, not "${String(text)}"`;
    throw new HttpException({ error: { code: 'VALIDATION_FAILED', message: `${name} must be a number${given} (e.g. ${name}=2)`, field: name } }, 400);
  }
  return value;
}

@ApiTags('nodes')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'no key, or an unknown one', type: ErrorDto })
@Controller('v1/nodes')
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
  async list(@Query() query: Record<string, unknown>): Promise<NodeListDto> {
    // Spores validates the filters (ranges, and refuses unknown ones); here only text becomes numbers.
    const filters: Record<string, unknown> = { ...query };
    for (const name of NUMERIC) if (query[name] !== undefined) filters[name] = numberIn(query, name);
    return answer(await this.client.send(QueryNodes, filters as QueryNodesV1));
  }

  @Get(':id')
  @RequiresScope('nodes:read')
  @ApiOperation({ summary: 'One node, with its most recent events', description: `The newest ${DEFAULT_HISTORY_LIMIT} events by default, oldest first; \`historyTotal\` says how many the node has.` })
  @ApiParam({ name: 'id', description: 'node id (20 hex characters)' })
  @ApiQuery({ name: 'historyLimit', required: false, type: Number, description: `how many of the newest events to return: 1 to ${MAX_HISTORY_LIMIT} (default ${DEFAULT_HISTORY_LIMIT}); fewer when they would not fit in one reply` })
  @ApiOkResponse({ type: NodeDetailDto })
  @ApiResponse({ status: 400, description: 'a malformed id or historyLimit; `field` names it', type: ErrorDto })
  @ApiResponse({ status: 404, description: 'no such node', type: ErrorDto })
  async get(@Param('id') id: string, @Query() query: Record<string, unknown>): Promise<NodeDetailDto> {
    const historyLimit = numberIn(query, 'historyLimit');
    return answer(await this.client.send(GetNode, { nodeId: id, history: true, ...(historyLimit !== undefined ? { historyLimit } : {}) }));
  }
}
