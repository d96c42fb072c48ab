import { randomBytes } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, HttpException, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ContractViolation, SUBSCRIPTION_ID, validatePayload } from '@mycelium/contracts';
import type { Subscription } from '../domain/subscription/subscription.js';
import { EventHub } from '../events/event-hub.js';
import { eventScope } from '../events/event-scope.js';
import { httpError } from '../http/replies.js';
import { RequiresScope } from '../keys/api-key.guard.js';
import type { ApiKeyHolder } from '../keys/api-keys.js';
import { ErrorDto } from '../nodes/node.dto.js';
import { CreateSubscriptionDto, SubscriptionDto } from './subscription.dto.js';
import { Subscriptions } from './subscriptions.js';

type KeyedRequest = { apiKey?: ApiKeyHolder; query: Record<string, unknown> };

const notFound = (id: string) => new HttpException({ error: { code: 'NOT_FOUND', message: `no subscription ${id}`, field: 'subscriptionId' } }, 404);

function viewOf(subscription: Subscription): SubscriptionDto {
  const { subscriptionId, url, types, subject, mode, tenant, status, deliveredUpTo, createdAt } = subscription;
  return { subscriptionId, url, types, ...(subject ? { subject } : {}), mode, ...(tenant ? { tenant } : {}), status, deliveredUpTo: deliveredUpTo.toString(), createdAt };
}

/** Webhook subscriptions to the event API: what a key may see, POSTed as CloudEvents (docs/adr/0021). */
@ApiTags('events')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'no key, or an unknown one', type: ErrorDto })
@Controller('v1/subscriptions')
export class SubscriptionsController {
  constructor(
    private readonly subscriptions: Subscriptions,
    private readonly hub: EventHub,
  ) {}

  @Post()
  @RequiresScope('events:read')
  @ApiOperation({
    summary: 'Subscribe a webhook to the events',
    description:
      'Each matching event is POSTed as a CloudEvent (structured or binary mode) with `X-Mycelium-Signature: sha256=<HMAC-SHA256 of the body>`, in log order, retried with backoff; when every attempt at one event fails, the subscription is disabled (an event says so) until enabled again.',
  })
  @ApiBody({ type: CreateSubscriptionDto })
  @ApiCreatedResponse({ type: SubscriptionDto })
  @ApiResponse({ status: 400, description: 'a field is invalid; `field` names it', type: ErrorDto })
  async create(@Req() request: KeyedRequest, @Body() body: unknown): Promise<SubscriptionDto> {
    let wanted: CreateSubscriptionDto;
    try {
      wanted = validatePayload(CreateSubscriptionDto, body ?? {}, { forbidUnknown: true });
    } catch (error) {
      if (error instanceof ContractViolation) throw httpError(error.toCommandError());
      throw error;
    }
    const tenant = eventScope(request);
    const subscriptionId = `sub_${randomBytes(10).toString('hex')}`;
    const secret = wanted.secret ?? randomBytes(24).toString('base64url');
    const created = await this.subscriptions.execute(subscriptionId, {
      type: 'Create',
      data: {
        subscriptionId,
        ...(tenant ? { tenant } : {}),
        url: wanted.url,
        types: wanted.types ?? [],
        ...(wanted.subject ? { subject: wanted.subject } : {}),
        mode: wanted.mode ?? 'structured',
        sealedSecret: this.subscriptions.secrets.seal(secret, `subscription:${subscriptionId}`),
        after: wanted.after ?? this.hub.position.toString(),
        keyId: request.apiKey!.keyId,
        now: new Date().toISOString(),
      },
    });
    return { ...viewOf(created!), ...(wanted.secret ? {} : { secret }) };
  }

  @Get()
  @RequiresScope('events:read')
  @ApiOperation({ summary: 'The webhook subscriptions this key may see' })
  list(@Req() request: KeyedRequest): { subscriptions: SubscriptionDto[] } {
    const tenant = eventScope(request);
    return {
      subscriptions: this.subscriptions
        .all()
        .filter((subscription) => subscription.status !== 'deleted' && (tenant === undefined || subscription.tenant === tenant))
        .map(viewOf),
    };
  }

  @Get(':id')
  @RequiresScope('events:read')
  @ApiOkResponse({ type: SubscriptionDto })
  async get(@Req() request: KeyedRequest, @Param('id') id: string): Promise<SubscriptionDto> {
    return viewOf(await this.#visible(request, id));
  }

  @Get(':id/deliveries')
  @RequiresScope('events:read')
  @ApiOperation({ summary: 'How delivery to a subscription went', description: 'Its newest delivery records, oldest first: batches delivered (up to which position), failed events, disabling and enabling.' })
  async deliveries(@Req() request: KeyedRequest, @Param('id') id: string) {
    const subscription = await this.#visible(request, id);
    return { subscriptionId: id, status: subscription.status, deliveredUpTo: subscription.deliveredUpTo.toString(), deliveries: subscription.deliveries };
  }

  @Post(':id/enable')
  @RequiresScope('events:read')
  @ApiOperation({ summary: 'Enable a disabled subscription', description: 'Delivery resumes at the event it stopped at.' })
  @HttpCode(200)
  async enable(@Req() request: KeyedRequest, @Param('id') id: string): Promise<SubscriptionDto> {
    await this.#visible(request, id);
    return viewOf((await this.subscriptions.execute(id, { type: 'Enable', data: { now: new Date().toISOString() } }))!);
  }

  @Delete(':id')
  @RequiresScope('events:read')
  @HttpCode(204)
  async remove(@Req() request: KeyedRequest, @Param('id') id: string): Promise<void> {
    await this.#visible(request, id);
    await this.subscriptions.execute(id, { type: 'Delete', data: { now: new Date().toISOString() } });
  }

  /** The subscription, if it exists and this key may see it; another tenant's is a 404. */
  async #visible(request: KeyedRequest, id: string): Promise<Subscription> {
    if (!SUBSCRIPTION_ID.test(id)) throw notFound(id);
    const subscription = await this.subscriptions.get(id);
    const tenant = eventScope(request);
    if (!subscription || subscription.status === 'deleted' || (tenant !== undefined && subscription.tenant !== tenant)) throw notFound(id);
    return subscription;
  }
}
