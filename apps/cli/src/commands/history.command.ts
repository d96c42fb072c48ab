import type { Command } from 'commander';
import { type AggregateAt, GetTimeline, type StateAt, STATEFUL_SERVICES, type StatefulService, stateAtOf } from '@mycelium/contracts';
import type { CommandClient } from '@mycelium/messaging';
import { fail, resultOf, table, withGrid } from '../output.js';
import { sinceOf, summaryOf } from './events.command.js';

const serviceOf = (program: Command, name: string): StatefulService =>
  (STATEFUL_SERVICES as readonly string[]).includes(name) ? (name as StatefulService) : fail(program, { message: `${name} keeps no state to rebuild: use ${STATEFUL_SERVICES.join(', ')}`, field: 'service' });

async function stateOf(program: Command, client: CommandClient, service: StatefulService, id: string | undefined, at: string | undefined, limit = 1000): Promise<StateAt> {
  return resultOf(program, await client.send(stateAtOf[service], { ...(id ? { id } : {}), ...(at ? { at: sinceOf(at) } : {}), limit }));
}

/** A state as `path = value` lines, nested objects and arrays flattened. */
export function flatten(value: unknown, path = '', into = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((item, index) => [String(index), item] as const) : Object.entries(value);
    if (entries.length === 0) into.set(path || '.', Array.isArray(value) ? '[]' : '{}');
    for (const [key, item] of entries) flatten(item, path ? `${path}.${key}` : key, into);
  } else into.set(path || '.', JSON.stringify(value));
  return into;
}

/** What changed in each aggregate between two states: `path: before → after`. */
export function diffStates(before: AggregateAt[], after: AggregateAt[]): { id: string; changes: { path: string; before?: string; after?: string }[] }[] {
  const earlier = new Map(before.map((aggregate) => [aggregate.stream, aggregate]));
  const later = new Map(after.map((aggregate) => [aggregate.stream, aggregate]));
  const streams = [...new Set([...earlier.keys(), ...later.keys()])].sort();
  const result: ReturnType<typeof diffStates> = [];
  for (const stream of streams) {
    const a = earlier.has(stream) ? flatten(earlier.get(stream)!.state) : new Map<string, string>();
    const b = later.has(stream) ? flatten(later.get(stream)!.state) : new Map<string, string>();
    const changes: { path: string; before?: string; after?: string }[] = [];
    for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
      if (a.get(path) === b.get(path)) continue;
      changes.push({ path, ...(a.has(path) ? { before: a.get(path)! } : {}), ...(b.has(path) ? { after: b.get(path)! } : {}) });
    }
    if (changes.length > 0) result.push({ id: (later.get(stream) ?? earlier.get(stream))!.id, changes });
  }
  return result;
}

export function defineHistoryCommands(program: Command): void {
  program
    .command('state')
    .description('a service’s state as it was at a moment, rebuilt from the log (the live service is not touched)')
    .argument('<service>', STATEFUL_SERVICES.join(' | '))
    .argument('[id]', 'one aggregate: an app, node, account, incident or round id')
    .option('--at <time|position>', 'an RFC 3339 time, a log position, or 10m / 2h ago (default: now)')
    .option('--json', 'print the state as JSON')
    .action(async (name: string, id: string | undefined, options: { at?: string; json?: boolean }) => {
      const service = serviceOf(program, name);
      const state = await withGrid(program, (client) => stateOf(program, client, service, id, options.at));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(state)}\n`);
        return;
      }
      const where = `${service} at position ${state.at.position}${state.at.time ? ` (${state.at.time})` : ''}`;
      if (id) {
        process.stdout.write(`${where}\n${JSON.stringify(state.aggregates[0]!.state, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${where}: ${state.total} aggregates\n${table([['ID', 'VERSION', 'STATE'], ...state.aggregates.map((aggregate) => [aggregate.id, String(aggregate.version), summaryOf(aggregate.state, 100)])])}\n`,
      );
    });

  program
    .command('diff')
    .description('what changed in a service’s state between two moments')
    .argument('<service>', STATEFUL_SERVICES.join(' | '))
    .argument('[id]', 'one aggregate')
    .requiredOption('--at <time|position...>', 'two moments: --at T1 --at T2 (the second default: now)')
    .option('--json', 'print the changes as JSON')
    .action(async (name: string, id: string | undefined, options: { at: string[]; json?: boolean }) => {
      const service = serviceOf(program, name);
      if (options.at.length > 2) fail(program, { message: 'give at most two moments: --at T1 --at T2', field: 'at' });
      const [from, to] = options.at;
      const [before, after] = await withGrid(program, (client) => Promise.all([stateOf(program, client, service, id, from), stateOf(program, client, service, id, to)]));
      const changes = diffStates(before.aggregates, after.aggregates);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ from: before.at, to: after.at, changes })}\n`);
        return;
      }
      const lines = [`${service}: position ${before.at.position} → ${after.at.position}`];
      if (changes.length === 0) lines.push('  nothing changed');
      for (const { id: changed, changes: paths } of changes) {
        lines.push(`  ${changed}`);
        for (const { path, before: was, after: is } of paths) lines.push(`    ${path}: ${was ?? '(none)'} → ${is ?? '(none)'}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  program
    .command('export')
    .description('every event of one correlation (an incident, a deploy) as CloudEvents JSON lines, to share or replay elsewhere')
    .requiredOption('--correlation <id>', 'a correlation, incident, app or node id')
    .option('--limit <n>', 'at most this many events', (value) => Number(value), 5000)
    .action(async (options: { correlation: string; limit: number }) => {
      const { entries, truncated } = await withGrid(program, async (client) => resultOf(program, await client.send(GetTimeline, { id: options.correlation, limit: options.limit })));
      for (const entry of entries) {
        const event = {
          specversion: '1.0',
          id: entry.eventId,
          source: `mycelium/${entry.service}`,
          type: entry.type,
          subject: entry.subject,
          time: entry.time,
          datacontenttype: 'application/json',
          data: entry.data,
          ...(entry.correlationId ? { correlationid: entry.correlationId } : {}),
          ...(entry.causationId ? { causationid: entry.causationId } : {}),
          streamversion: entry.streamVersion,
          position: entry.position,
          ...(entry.tenant ? { tenant: entry.tenant } : {}),
        };
        process.stdout.write(`${JSON.stringify(event)}\n`);
      }
      if (truncated) process.stderr.write(`myc: only the first ${entries.length} events; --limit exports more\n`);
    });
}
