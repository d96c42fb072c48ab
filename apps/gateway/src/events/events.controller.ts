import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { gridRegistry, payloadSchemas, schemaOf } from '@mycelium/contracts';
import type { ApiKeyHolder } from '../keys/api-keys.js';
import { RequiresScope } from '../keys/api-key.guard.js';
import { subscriptionOf } from './event-scope.js';
import { EventHub } from './event-hub.js';
import { SSE_MAX_PENDING_BYTES, SseSink } from './sse-sink.js';

/** How far behind a reader may fall before it is let go (MYCELIUM_EVENTS_MAX_PENDING_BYTES). */
const maxPendingBytes = () => Number(process.env.MYCELIUM_EVENTS_MAX_PENDING_BYTES) || SSE_MAX_PENDING_BYTES;

/** Made on first request: the contracts do not change while the gateway runs. */
let schemas: Record<string, unknown> | undefined;

type EventsRequest = IncomingMessage & { apiKey?: ApiKeyHolder; query: Record<string, unknown> };

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/events')
export class EventsController {
  constructor(private readonly hub: EventHub) {}

  @Get()
  @RequiresScope('events:read')
  @ApiOperation({
    summary: 'The grid’s events, live, as Server-Sent Events',
    description:
      'Each event is a CloudEvent (structured JSON) in `data:`, its log position in `id:`. Reconnect with `Last-Event-ID` (EventSource does) to resume without a gap or a duplicate. A tenant’s key sees that tenant’s events only; an operator key sees all. A reader that falls 4 MiB behind gets an `overflow` event with the position to resume from, and is disconnected.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'resume after this position' })
  @ApiQuery({ name: 'type', required: false, description: 'event type prefixes, comma-separated, e.g. mycelium.deployment.' })
  @ApiQuery({ name: 'subject', required: false, description: 'a stream id prefix, e.g. deployment/app/app_7e1a' })
  @ApiQuery({ name: 'since', required: false, description: 'start after this log position, or at this RFC 3339 time (Last-Event-ID wins)' })
  @ApiQuery({ name: 'tenant', required: false, description: 'operator keys: only this tenant’s events' })
  @ApiResponse({ status: 400, description: 'a filter is invalid; `field` names it' })
  async stream(@Req() request: EventsRequest, @Res() response: ServerResponse): Promise<void> {
    const { filter, resume } = subscriptionOf(request, request.headers['last-event-id']);
    const stop = new AbortController();
    let unsubscribe = () => undefined as void;
    const sink = new SseSink(response, maxPendingBytes(), () => {
      stop.abort();
      unsubscribe();
    });
    try {
      const subscription = await this.hub.subscribe(filter, resume, sink, stop.signal);
      unsubscribe = () => subscription.unsubscribe();
      if (sink.closed) subscription.unsubscribe();
    } catch {
      // The log could not be read while catching up: the reader comes back (EventSource retries).
      sink.dropped('unavailable');
    }
  }

  @Get('schema')
  @RequiresScope('events:read')
  @ApiOperation({ summary: 'The JSON Schema of every event type’s data', description: 'Keyed by CloudEvents `type`, e.g. mycelium.deployment.app-deployed.v1.' })
  schema(): Record<string, unknown> {
    if (!schemas) {
      const all = payloadSchemas('#/$defs/');
      schemas = Object.fromEntries(gridRegistry().events().map((definition) => [definition.type, schemaOf(definition, all)]));
    }
    return schemas;
  }
}
