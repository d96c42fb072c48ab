import type { ContractRegistry } from './registry.js';
import { type JsonSchema, payloadSchemas } from './schema.js';

export interface AsyncApiInfo {
  title: string;
  version: string;
  description: string;
  natsUrl?: string;
}

/** The CloudEvents envelope every grid event travels in (structured JSON). */
const cloudEventSchema: JsonSchema = {
  type: 'object',
  description: 'CloudEvents 1.0 envelope, structured JSON mode, with the extensions of the Mycelium log.',
  required: ['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'data', 'streamversion', 'position'],
  properties: {
    specversion: { type: 'string', const: '1.0' },
    id: { type: 'string', format: 'uuid', description: 'UUIDv7 of the event; also its NATS message id.' },
    source: { type: 'string', description: 'mycelium/<service>' },
    type: { type: 'string', description: 'mycelium.<service>.<event>.v<N>' },
    subject: { type: 'string', description: 'The stream: <service>/<aggregate>/<id>' },
    time: { type: 'string', format: 'date-time' },
    datacontenttype: { type: 'string', const: 'application/json' },
    data: { type: 'object' },
    correlationid: { type: 'string', description: 'Shared by every event caused by the same request.' },
    causationid: { type: 'string', description: 'Id of the event or command that caused this one.' },
    streamversion: { type: 'integer', minimum: 1 },
    position: { type: 'string', pattern: '^[0-9]+$', description: 'Global position in the log (decimal string).' },
    tenant: { type: 'string' },
    traceparent: { type: 'string', description: 'W3C trace context of the write.' },
    tracestate: { type: 'string' },
  },
};

const commandErrorSchema: JsonSchema = {
  type: 'object',
  required: ['ok', 'error'],
  properties: {
    ok: { const: false },
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        field: { type: 'string' },
        details: { type: 'object' },
      },
    },
  },
};

function key(text: string): string {
  return text.replace(/[^a-zA-Z0-9._-]/g, '_');
}

/**
 * An AsyncAPI 3.0 document of everything in `registry`: one channel per event subject (the grid
 * sends them) and one per command subject (the grid receives them and replies).
 */
export function buildAsyncApi(registry: ContractRegistry, info: AsyncApiInfo): { asyncapi: string } & Record<string, unknown> {
  const schemas = payloadSchemas('#/components/schemas/');
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const usedSchemas = new Set<string>();

  const events = [...registry.events()].sort((a, b) => a.type.localeCompare(b.type));
  for (const event of events) {
    const channelId = key(event.subject);
    const messageId = key(event.type);
    usedSchemas.add(event.payload.name);
    messages[messageId] = {
      name: event.type,
      title: event.payload.name,
      summary: event.description,
      contentType: 'application/cloudevents+json',
      payload: {
        allOf: [
          { $ref: '#/components/schemas/CloudEvent' },
          {
            type: 'object',
            properties: {
              type: { const: event.type },
              data: { $ref: `#/components/schemas/${event.payload.name}` },
            },
          },
        ],
      },
    };
    const channel = (channels[channelId] ??= {
      address: event.subject,
      description: `Every version of ${event.service} ${event.name}, on the JetStream stream MYCELIUM_EVENTS.`,
      messages: {},
    }) as { messages: Record<string, unknown> };
    channel.messages[messageId] = { $ref: `#/components/messages/${messageId}` };
    const operation = (operations[`publish.${channelId}`] ??= {
      action: 'send',
      channel: { $ref: `#/channels/${channelId}` },
      summary: `The ${event.service} service publishes ${event.name}.`,
      messages: [],
    }) as { messages: unknown[] };
    operation.messages.push({ $ref: `#/channels/${channelId}/messages/${messageId}` });
  }

  const commands = [...registry.commands()].sort((a, b) => a.subject.localeCompare(b.subject) || a.version - b.version);
  for (const command of commands) {
    const channelId = key(command.subject);
    const messageId = key(`${command.subject}.v${command.version}`);
    usedSchemas.add(command.payload.name);
    messages[messageId] = {
      name: `${command.subject}.v${command.version}`,
      title: command.payload.name,
      summary: command.description,
      contentType: 'application/json',
      payload: { $ref: `#/components/schemas/${command.payload.name}` },
    };
    const channel = (channels[channelId] ??= {
      address: command.subject,
      description: `Request/reply command of the ${command.service} service.`,
      messages: {},
    }) as { messages: Record<string, unknown> };
    channel.messages[messageId] = { $ref: `#/components/messages/${messageId}` };
    channels[`${channelId}.reply`] ??= {
      address: null,
      description: 'The requester’s inbox: `{ ok: true, result }` or `{ ok: false, error: { code, message, field } }`.',
      messages: { CommandReply: { $ref: '#/components/messages/CommandReply' } },
    };
    const operation = (operations[`handle.${channelId}`] ??= {
      action: 'receive',
      channel: { $ref: `#/channels/${channelId}` },
      summary: command.description,
      messages: [],
      reply: { channel: { $ref: `#/channels/${channelId}.reply` } },
    }) as { messages: unknown[] };
    operation.messages.push({ $ref: `#/channels/${channelId}/messages/${messageId}` });
  }
  if (commands.length > 0) {
    messages.CommandReply = {
      name: 'CommandReply',
      contentType: 'application/json',
      payload: {
        oneOf: [
          { type: 'object', required: ['ok', 'result'], properties: { ok: { const: true }, result: {} } },
          { $ref: '#/components/schemas/CommandError' },
        ],
      },
    };
  }

  // The event API third parties use (docs/adr/0021): every event, as on NATS, over SSE, WebSocket and webhooks.
  const everyEvent = Object.fromEntries(events.map((event) => [key(event.type), { $ref: `#/components/messages/${key(event.type)}` }]));
  if (events.length > 0) {
    channels['event-api.sse'] = {
      address: '/v1/events',
      servers: [{ $ref: '#/servers/gateway' }],
      description:
        'Server-Sent Events: each event a CloudEvent in `data:`, its log position in `id:`; resume with `Last-Event-ID`. Filters `type` (prefixes) and `subject` (prefix); a tenant’s key sees its tenant’s events only.',
      messages: everyEvent,
    };
    channels['event-api.ws'] = {
      address: '/v1/events/ws',
      servers: [{ $ref: '#/servers/gateway-ws' }],
      description: 'WebSocket: `subscribe` / `unsubscribe` frames, acknowledged; each event a frame `{ type: "event", subscription, event }` with the CloudEvent.',
      messages: { ...everyEvent, SubscribeFrame: { $ref: '#/components/messages/SubscribeFrame' }, ControlFrame: { $ref: '#/components/messages/ControlFrame' } },
    };
    channels['event-api.webhook'] = {
      address: null,
      description: 'A webhook subscription’s URL (POST /v1/subscriptions): each event POSTed as a CloudEvent (structured or binary HTTP mode), signed `X-Mycelium-Signature: sha256=<HMAC-SHA256 of the body>`.',
      messages: everyEvent,
    };
    const allOf = (channel: string) => Object.keys(everyEvent).map((id) => ({ $ref: `#/channels/${channel}/messages/${id}` }));
    operations['stream.event-api.sse'] = { action: 'send', channel: { $ref: '#/channels/event-api.sse' }, summary: 'The gateway streams the events a key may see.', messages: allOf('event-api.sse') };
    operations['stream.event-api.ws'] = { action: 'send', channel: { $ref: '#/channels/event-api.ws' }, summary: 'The gateway sends each subscription its events and acknowledges control frames.', messages: [...allOf('event-api.ws'), { $ref: '#/channels/event-api.ws/messages/ControlFrame' }] };
    operations['subscribe.event-api.ws'] = { action: 'receive', channel: { $ref: '#/channels/event-api.ws' }, summary: 'A client subscribes and unsubscribes.', messages: [{ $ref: '#/channels/event-api.ws/messages/SubscribeFrame' }] };
    operations['deliver.event-api.webhook'] = { action: 'send', channel: { $ref: '#/channels/event-api.webhook' }, summary: 'The gateway POSTs each matching event to a webhook subscription.', messages: allOf('event-api.webhook') };
    messages.SubscribeFrame = {
      name: 'SubscribeFrame',
      contentType: 'application/json',
      payload: {
        type: 'object',
        required: ['type', 'id'],
        properties: {
          type: { enum: ['subscribe', 'unsubscribe'] },
          id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
          filter: { type: 'object', properties: { type: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }, subject: { type: 'string' } } },
          after: { type: 'string', pattern: '^[0-9]+$', description: 'resume after this log position' },
          since: { type: 'string', description: 'a log position or an RFC 3339 time' },
        },
      },
    };
    messages.ControlFrame = {
      name: 'ControlFrame',
      contentType: 'application/json',
      payload: {
        type: 'object',
        required: ['type'],
        properties: {
          type: { enum: ['subscribed', 'unsubscribed', 'error', 'dropped'] },
          id: { type: 'string' },
          position: { type: 'string' },
          error: { $ref: '#/components/schemas/CommandError' },
          resumeFrom: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    };
  }

  // Keep the schemas of these contracts and of the classes they nest, nothing else loaded.
  const componentsSchemas: Record<string, unknown> = { CloudEvent: cloudEventSchema, CommandError: commandErrorSchema };
  const pending = [...usedSchemas];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (componentsSchemas[name] || !schemas[name]) continue;
    componentsSchemas[name] = schemas[name];
    for (const [, nested] of JSON.stringify(schemas[name]).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      if (nested) pending.push(nested);
    }
  }

  return {
    asyncapi: '3.0.0',
    info: { title: info.title, version: info.version, description: info.description },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: (info.natsUrl ?? 'nats://127.0.0.1:4222').replace(/^nats:\/\//, ''),
        protocol: 'nats',
        description: 'The grid’s NATS server with JetStream.',
      },
      gateway: { host: '127.0.0.1:8080', protocol: 'http', description: 'The gateway’s event API (an API key with events:read: Authorization: Bearer <key>).' },
      'gateway-ws': { host: '127.0.0.1:8080', protocol: 'ws', description: 'The gateway’s event API over WebSocket (the key as a header or ?access_token=).' },
    },
    channels,
    operations,
    components: {
      messages,
      schemas: Object.fromEntries(Object.entries(componentsSchemas).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}
