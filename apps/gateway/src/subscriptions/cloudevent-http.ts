import type { SubscriptionMode } from '@mycelium/contracts';

/**
 * An event as a CloudEvents HTTP message: structured mode sends the whole event as the body
 * (`application/cloudevents+json`); binary mode sends the attributes as `ce-*` headers and the data
 * as the body (`application/json`).
 */
export function cloudEventRequest(eventJson: string, mode: SubscriptionMode): { headers: Record<string, string>; body: string } {
  if (mode === 'structured') return { headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' }, body: eventJson };
  const { data, datacontenttype, ...attributes } = JSON.parse(eventJson) as Record<string, unknown>;
  const headers: Record<string, string> = { 'content-type': typeof datacontenttype === 'string' ? datacontenttype : 'application/json' };
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined && value !== null) headers[`ce-${name}`] = String(value);
  return { headers, body: JSON.stringify(data ?? null) };
}
