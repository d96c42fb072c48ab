import { Body, Controller, Get, HttpException, Inject, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  type CommandReply,
  ContractViolation,
  DEFAULT_LEDGER_LIMIT,
  DEFAULT_TENANT,
  GetAccount,
  GetLedger,
  MAX_LEDGER_LIMIT,
  TENANT,
  TopUpCredits,
  validatePayload,
} from '@mycelium/contracts';
import { COMMAND_CLIENT, type CommandClient } from '@mycelium/messaging';
import { RequiresScope } from '../keys/api-key.guard.js';
import type { ApiKeyHolder } from '../keys/api-keys.js';
import { ErrorDto } from '../nodes/node.dto.js';
import { AccountDto, LedgerDto, TopUpBodyDto, TopUpResultDto } from './account.dto.js';

/** The HTTP status of a command error code; anything unknown is the gateway's upstream failing (502). */
export const ACCOUNT_ERROR_STATUS: Readonly<Record<string, number>> = {
  VALIDATION_FAILED: 400,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ILLEGAL_STATE: 409,
  CONFLICT: 409,
  INSUFFICIENT_CREDITS: 402,
  PRICE_UNAVAILABLE: 503,
  PRICE_SLIPPAGE: 503,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
};

export function httpStatusOf(code: string): number {
  return ACCOUNT_ERROR_STATUS[code] ?? 502;
}

function fail(error: { code: string; message: string; field?: string; details?: Record<string, unknown> }): never {
  const { code, message, field, details } = error;
  throw new HttpException({ error: { code, message, ...(field ? { field } : {}), ...(details ? { details } : {}) } }, httpStatusOf(code));
}

function answer<T>(reply: CommandReply<T>): T {
  if (reply.ok) return reply.result;
  return fail(reply.error);
}

interface KeyedRequest {
  apiKey?: ApiKeyHolder;
}

/**
 * Whose account a request is about: the key's tenant (`default` for a key that names none), or
 * the one asked for, which only an admin key may name when it is another's.
 */
function tenantOf(request: KeyedRequest, asked: unknown): string {
  const key = request.apiKey!;
  const own = key.tenant ?? DEFAULT_TENANT;
  if (asked === undefined) return own;
  if (typeof asked !== 'string' || !TENANT.test(asked)) {
    return fail({ code: 'VALIDATION_FAILED', message: 'tenant must be lower-case letters, digits and inner dashes, given once', field: 'tenant' });
  }
  if (asked !== own && !key.scopes.includes('admin')) {
    return fail({ code: 'FORBIDDEN', message: `this key acts for ${own}: only an admin key may see the account of ${asked}` });
  }
  return asked;
}

/** Only the query parameters a route knows: a misspelt one would otherwise be silently ignored. */
function onlyKnown(query: Record<string, unknown>, known: string[]): void {
  const unknown = Object.keys(query).find((name) => !known.includes(name));
  if (unknown) fail({ code: 'VALIDATION_FAILED', message: `${unknown} is not a parameter of this route (known: ${known.join(', ')})`, field: unknown });
}

@ApiTags('account')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'no key, or an unknown one', type: ErrorDto })
@ApiResponse({ status: 403, description: 'the key lacks the scope, or names another tenant without being admin', type: ErrorDto })
@Controller('v1/account')
export class AccountController {
  constructor(@Inject(COMMAND_CLIENT) private readonly client: CommandClient) {}

  @Post('credits')
  @RequiresScope('admin')
  @ApiOperation({ summary: 'Add credits to an account', description: 'Once per `reference`: sending the same payment again answers `credited: false` and changes nothing.' })
  @ApiBody({ type: TopUpBodyDto })
  @ApiCreatedResponse({ type: TopUpResultDto })
  @ApiResponse({ status: 400, description: 'a field is invalid; `field` names it', type: ErrorDto })
  @ApiResponse({ status: 409, description: 'the reference was credited with another amount', type: ErrorDto })
  @ApiResponse({ status: 413, description: 'the body is larger than the gateway takes' })
  async topUp(@Req() request: KeyedRequest, @Body() body: unknown): Promise<TopUpResultDto> {
    let payment: TopUpBodyDto;
    try {
      payment = validatePayload(TopUpBodyDto, body ?? {}, { forbidUnknown: true });
    } catch (error) {
      if (error instanceof ContractViolation) return fail(error.toCommandError());
      throw error;
    }
    const tenant = payment.tenant ?? request.apiKey?.tenant ?? DEFAULT_TENANT;
    return answer(await this.client.send(TopUpCredits, { tenant, amount: payment.amount, reference: payment.reference }));
  }

  @Get()
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'The account’s balance', description: 'Spendable and reserved credits, and the currency. An account never topped up has a zero balance.' })
  @ApiQuery({ name: 'tenant', required: false, description: 'admin keys only: another tenant’s account' })
  @ApiOkResponse({ type: AccountDto })
  async get(@Req() request: KeyedRequest, @Query() query: Record<string, unknown>): Promise<AccountDto> {
    onlyKnown(query, ['tenant']);
    return answer(await this.client.send(GetAccount, { tenant: tenantOf(request, query.tenant) }));
  }

  @Get('ledger')
  @RequiresScope('apps:write')
  @ApiOperation({ summary: 'The account’s ledger', description: `The newest entries, oldest first (${DEFAULT_LEDGER_LIMIT} unless \`limit\` says otherwise); \`total\` counts them all.` })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: `1 to ${MAX_LEDGER_LIMIT}` })
  @ApiQuery({ name: 'tenant', required: false, description: 'admin keys only: another tenant’s ledger' })
  @ApiOkResponse({ type: LedgerDto })
  @ApiResponse({ status: 400, description: 'a malformed limit; `field` names it', type: ErrorDto })
  async ledger(@Req() request: KeyedRequest, @Query() query: Record<string, unknown>): Promise<LedgerDto> {
    onlyKnown(query, ['tenant', 'limit']);
    const tenant = tenantOf(request, query.tenant);
    let limit: number | undefined;
    if (query.limit !== undefined) {
      limit = typeof query.limit === 'string' && /^\d+$/.test(query.limit) ? Number(query.limit) : Number.NaN;
      if (!Number.isInteger(limit)) fail({ code: 'VALIDATION_FAILED', message: `limit must be a whole number from 1 to ${MAX_LEDGER_LIMIT}, given once`, field: 'limit' });
    }
    // Billing checks the range, with the same words as over NATS.
    return answer(await this.client.send(GetLedger, { tenant, ...(limit === undefined ? {} : { limit }) }));
  }
}
