import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CloudEvent, ListProjections, parseCloudEvent, RebuildProjection, ReplayProjections } from '@mycelium/contracts';
import { foldProjection, type ProjectionRow, type RecordedEvent } from '@mycelium/eventstore';
import { GATEWAY_PROJECTIONS } from '@mycelium/gateway';
import { fail, resultOf, table, withGrid } from '../output.js';
import { sinceOf, summaryOf } from './events.command.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `[########------------]  40%` */
export function progressBar(done: bigint, total: bigint, width = 30): string {
  const share = total <= 0n ? 1 : Math.min(1, Number((done * 1000n) / total) / 1000);
  const filled = Math.round(share * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(share * 100)).padStart(3)}%`;
}

/** A CloudEvent of an exported file as the log recorded it. */
export function recordedOf(event: CloudEvent): RecordedEvent {
  return {
    id: event.id,
    streamId: event.subject,
    streamVersion: event.streamversion,
    position: BigInt(event.position),
    type: event.type,
    data: event.data,
    metadata: {
      ...(event.correlationid ? { correlationId: event.correlationid } : {}),
      ...(event.causationid ? { causationId: event.causationid } : {}),
      ...(event.tenant ? { tenant: event.tenant } : {}),
    },
    recordedAt: new Date(event.time),
  };
}

/** Streams whose versions in `events` skip some: what an exported slice is missing. */
export function gapsOf(events: RecordedEvent[]): { stream: string; after: number; next: number }[] {
  const last = new Map<string, number>();
  const gaps: { stream: string; after: number; next: number }[] = [];
  for (const event of [...events].sort((a, b) => (a.position < b.position ? -1 : 1))) {
    const previous = last.get(event.streamId);
    if (previous !== undefined && event.streamVersion !== previous + 1) gaps.push({ stream: event.streamId, after: previous, next: event.streamVersion });
    last.set(event.streamId, event.streamVersion);
  }
  return gaps;
}

export function defineProjectionsCommands(program: Command): void {
  const projections = program.command('projections').description('the gateway’s persistent projections (read models built from the log)');

  projections
    .command('list')
    .description('each projection with its generations and how far they have read')
    .option('--json', 'print them as JSON')
    .action(async (options: { json?: boolean }) => {
      const { projections: listed } = await withGrid(program, async (client) => resultOf(program, await client.send(ListProjections, {})));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(listed)}\n`);
        return;
      }
      const rows = [['NAME', 'GENERATION', 'STATUS', 'CODE', 'READ UP TO', 'CAUGHT UP', 'ABOUT']];
      for (const projection of listed) {
        for (const generation of projection.generations.filter((candidate) => candidate.status !== 'retired')) {
          const caughtUp = BigInt(generation.position) >= BigInt(projection.head) ? 'yes' : `no (the log is at ${projection.head})`;
          rows.push([projection.name, String(generation.generation), generation.status, generation.codeVersion, generation.position, caughtUp, projection.description]);
        }
      }
      process.stdout.write(`${table(rows)}\n`);
    });

  projections
    .command('rebuild')
    .description('rebuild a projection from the start of the log; the old one serves until the new one has caught up, then they swap')
    .argument('<name>', GATEWAY_PROJECTIONS.map((definition) => definition.name).join(' | '))
    .option('--json', 'print progress as JSON lines')
    .action(async (name: string, options: { json?: boolean }) => {
      await withGrid(program, async (client) => {
        const { generation } = resultOf(program, await client.send(RebuildProjection, { name }));
        const started = Date.now();
        for (;;) {
          const [view] = resultOf(program, await client.send(ListProjections, { name })).projections;
          const mine = view!.generations.find((candidate) => candidate.generation === generation);
          const events = view!.rebuilding?.events ?? 0;
          const position = BigInt(view!.rebuilding?.position ?? mine?.position ?? '0');
          if (options.json) process.stdout.write(`${JSON.stringify({ name, generation, status: mine?.status, position: position.toString(), head: view!.head, events })}\n`);
          else if (process.stdout.isTTY) process.stdout.write(`\r${name} generation ${generation} ${progressBar(position, BigInt(view!.head))} ${events.toLocaleString('en')} events`);
          if (mine?.status === 'active') {
            const seconds = (Date.now() - started) / 1000;
            if (!options.json) process.stdout.write(`${process.stdout.isTTY ? '\n' : ''}${name}: generation ${generation} serves now (rebuilt from ${events.toLocaleString('en')} events in ${seconds.toFixed(1)} s)\n`);
            return;
          }
          if (!mine || mine.status === 'retired') fail(program, { message: `the rebuild of ${name} stopped; generation ${generation} is ${mine?.status ?? 'gone'}: the old one still serves` });
          await sleep(250);
        }
      });
    });

  program
    .command('replay')
    .description('replay a slice of the log (or an exported file) through the projections into an isolated read model, and say where it differs from what was recorded')
    .option('--from <time|position>', 'the slice starts after this')
    .option('--to <time|position>', 'and ends here (default: now)')
    .option('--service <service>', 'only this service’s streams')
    .option('--projection <name>', 'only this projection')
    .option('--file <file>', 'replay the CloudEvents JSON lines of `myc export` instead, with no grid')
    .option('--json', 'print the result as JSON')
    .action(async (options: { from?: string; to?: string; service?: string; projection?: string; file?: string; json?: boolean }) => {
      if (options.file) return replayFile(program, options.file, options);
      if (!options.from) fail(program, { message: 'give --from (and --to), or --file', field: 'from' });
      const request = {
        from: sinceOf(options.from!),
        to: options.to ? sinceOf(options.to) : new Date().toISOString(),
        ...(options.service ? { service: options.service } : {}),
        ...(options.projection ? { name: options.projection } : {}),
      };
      const result = await withGrid(program, async (client) => resultOf(program, await client.send(ReplayProjections, request)));
      if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        for (const projection of result.projections) {
          process.stdout.write(`${projection.name}: positions ${projection.slice.from}–${projection.slice.to}, ${projection.events} events replayed, ${projection.touched} rows touched, ${projection.differing === 0 ? 'every one as recorded' : `${projection.differing} differ`}\n`);
          for (const { key, recorded, replayed } of projection.differences) {
            process.stdout.write(`  ${key}\n    recorded  ${recorded ? summaryOf(recorded, 120) : '(none)'}\n    replayed  ${replayed ? summaryOf(replayed, 120) : '(none)'}\n`);
          }
        }
      }
      if (result.projections.some((projection) => projection.differing > 0)) process.exitCode = 1;
    });
}

function replayFile(program: Command, file: string, options: { projection?: string; json?: boolean }): void {
  let events: RecordedEvent[];
  try {
    events = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line, index) => {
        try {
          return recordedOf(parseCloudEvent(JSON.parse(line)));
        } catch (error) {
          throw new Error(`line ${index + 1}: ${(error as Error).message}`);
        }
      })
      .sort((a, b) => (a.position < b.position ? -1 : 1));
  } catch (error) {
    return fail(program, { message: `cannot replay ${file}: ${(error as Error).message}` });
  }
  const result = GATEWAY_PROJECTIONS.filter((definition) => !options.projection || definition.name === options.projection).map((definition) => {
    const rows = new Map<string, ProjectionRow>();
    foldProjection(definition, rows, events);
    return { name: definition.name, rows: Object.fromEntries(rows) };
  });
  const gaps = gapsOf(events);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ events: events.length, gaps, projections: result })}\n`);
    return;
  }
  process.stdout.write(`${events.length} events from ${file}${gaps.length ? `; ${gaps.length} streams miss events` : ''}\n`);
  for (const gap of gaps) process.stdout.write(`  ${gap.stream}: nothing between versions ${gap.after} and ${gap.next}\n`);
  for (const { name, rows } of result) {
    process.stdout.write(`${name}:\n${table([['KEY', 'ROW'], ...Object.entries(rows).map(([key, row]) => [key, summaryOf(row, 110)])])}\n`);
  }
}
