/**
 * How the grid names things on the wire. Streams are `<service>/<aggregate>/<id>`; event types are
 * `mycelium.<service>.<event>.v<N>`; NATS subjects are `evt.<service>.<aggregate>.<event>`,
 * `cmd.<service>.<command>` and `dlq.<service>`.
 */

const TOKEN = /^[a-z][a-z0-9-]*$/;
const EVENT_TYPE = /^mycelium\.([a-z][a-z0-9-]*)\.([a-z][a-z0-9-]*)\.v([1-9][0-9]*)$/;

export function isNameToken(value: string): boolean {
  return TOKEN.test(value);
}

export function eventType(service: string, name: string, version: number): string {
  return `mycelium.${service}.${name}.v${version}`;
}

export function parseEventType(type: string): { service: string; name: string; version: number } | undefined {
  const match = EVENT_TYPE.exec(type);
  return match ? { service: match[1]!, name: match[2]!, version: Number(match[3]) } : undefined;
}

export function streamId(service: string, aggregate: string, id: string): string {
  return `${service}/${aggregate}/${id}`;
}

export function parseStreamId(stream: string): { service: string; aggregate: string; id: string } | undefined {
  const [service, aggregate, ...rest] = stream.split('/');
  if (!service || !aggregate || rest.length === 0) return undefined;
  return { service, aggregate, id: rest.join('/') };
}

/** A NATS subject token from any text: no dots, wildcards or whitespace. */
export function subjectToken(value: string): string {
  const token = value.replace(/[^A-Za-z0-9_-]/g, '_');
  return token.length > 0 ? token : '_';
}

/** `evt.<service>.<aggregate>.<event>` for an event of `type` in `stream`. */
export function eventSubject(stream: string, type: string): string {
  const parsedStream = parseStreamId(stream);
  const parsedType = parseEventType(type);
  const service = parsedStream?.service ?? stream.split('/')[0] ?? 'unknown';
  const aggregate = parsedStream?.aggregate ?? 'unknown';
  const name = parsedType?.name ?? type;
  return `evt.${subjectToken(service)}.${subjectToken(aggregate)}.${subjectToken(name)}`;
}

export function commandSubject(service: string, name: string): string {
  return `cmd.${service}.${name}`;
}

export function deadLetterSubject(service: string): string {
  return `dlq.${subjectToken(service)}`;
}
