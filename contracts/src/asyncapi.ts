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
    },
    channels,
    operations,
    components: {
      messages,
      schemas: Object.fromEntries(Object.entries(componentsSchemas).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}
