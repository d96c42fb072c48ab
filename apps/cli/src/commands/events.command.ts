import type { Command } from 'commander';
import { type CloudEvent, GetTimeline, type TimelineEntry } from '@mycelium/contracts';
import { EventSource } from 'eventsource';
import { readCredentials } from '../context.js';
import { fail, resultOf, table, withGrid } from '../output.js';

/** An event's data in a line: its scalar fields, key=value, as far as they fit. */
export function summaryOf(data: unknown, width = 90): string {
  if (typeof data !== 'object' || data === null) return String(data ?? '');
  const parts: string[] = [];
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (key === 'at' || value === null || value === undefined) continue;
    if (typeof value === 'object') parts.push(`${key}=${Array.isArray(value) ? `[${value.length}]` : '{…}'}`);
    else parts.push(`${key}=${String(value)}`);
  }
  const line = parts.join(' ');
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** `mycelium.deployment.app-scaled.v1` as `app-scaled`. */
const shortType = (type: string) => type.split('.').slice(2, -1).join('.') || type;

export function defineEventsCommands(program: Command): void {
  const events = program.command('events').description('the grid’s log of events');

  events
    .command('tail')
    .description('follow the events as they happen (the gateway’s event API), readable or as CloudEvents JSON lines')
    .option('--type <prefix...>', 'only types starting with these, e.g. mycelium.healing.')
    .option('--subject <prefix>', 'only streams starting with this, e.g. deployment/app/app_7e1a')
    .option('--since <time|position>', 'start after this log position, or at this time (RFC 3339, or 10m / 2h ago)')
    .option('--tenant <tenant>', 'only this tenant’s events')
    .option('--json', 'one CloudEvent JSON per line')
    .action((options: { type?: string[]; subject?: string; since?: string; tenant?: string; json?: boolean }) => {
      const credentials = readCredentials() ?? fail(program, { message: 'no local grid credentials: start one with `npm start`, or set MYCELIUM_GATEWAY and MYCELIUM_API_KEY' });
      const query = new URLSearchParams();
      if (options.type?.length) query.set('type', options.type.join(','));
      if (options.subject) query.set('subject', options.subject);
      if (options.since) query.set('since', sinceOf(options.since));
      if (options.tenant) query.set('tenant', options.tenant);
      const url = `${credentials.gateway}/v1/events${query.size ? `?${query}` : ''}`;
      const source = new EventSource(url, {
        fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${credentials.apiKey}` } }),
      });
      source.onmessage = (message) => {
        if (options.json) {
          process.stdout.write(`${message.data}\n`);
          return;
        }
        const event = JSON.parse(message.data as string) as CloudEvent;
        process.stdout.write(`${event.time}  ${event.position.padStart(12)}  ${event.source.replace('mycelium/', '').padEnd(10)}  ${shortType(event.type).padEnd(28)}  ${event.subject}  ${summaryOf(event.data)}\n`);
      };
      source.addEventListener('overflow', (message) => process.stderr.write(`myc: ${(JSON.parse((message as MessageEvent).data as string) as { message: string }).message}\n`));
      source.onerror = (error) => {
        const code = (error as { code?: number }).code;
        if (code === 401 || code === 403 || code === 400) {
          source.close();
          fail(program, { message: `the gateway refused: ${(error as { message?: string }).message ?? code}` });
        }
      };
      process.on('SIGINT', () => {
        source.close();
        process.exit(0);
      });
    });

  program
    .command('timeline')
    .description('every event about an app, node, incident, account or correlation id, across services, in order')
    .argument('<id>')
    .option('--limit <n>', 'at most this many events', (value) => Number(value), 1000)
    .option('--json', 'print the entries as JSON')
    .action(async (id: string, options: { limit: number; json?: boolean }) => {
      const { entries, truncated } = await withGrid(program, async (client) => resultOf(program, await client.send(GetTimeline, { id, limit: options.limit })));
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ id, entries, truncated })}\n`);
        return;
      }
      if (entries.length === 0) {
        process.stdout.write(`no event mentions ${id}\n`);
        return;
      }
      process.stdout.write(`${timelineTable(entries)}\n${truncated ? `(the first ${entries.length}; --limit shows more)\n` : ''}`);
    });
}

export function timelineTable(entries: TimelineEntry[]): string {
  return table([
    ['TIME', 'SERVICE', 'EVENT', 'SUBJECT', 'WHAT', 'CAUSED BY'],
    ...entries.map((entry) => [
      entry.time,
      entry.service,
      shortType(entry.type),
      entry.subject,
      summaryOf(entry.data, 70),
      entry.causedBy ? `${shortType(entry.causedBy.type)} (${entry.causedBy.position})` : '',
    ]),
  ]);
}

/** `10m`, `2h`, `1d` ago as a time; anything else as given (a position or an RFC 3339 time). */
export function sinceOf(since: string): string {
  const ago = /^(\d+)(s|m|h|d)$/.exec(since);
  if (!ago) return since;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
  return new Date(Date.now() - Number(ago[1]) * unit).toISOString();
}
