import { cpus } from 'node:os';

export interface Row {
  name: string;
  ours: number;
  baseline: number;
  unit: string;
  baselineName: string;
  /** The ratio ours/baseline must reach. */
  target: number;
  note?: string;
}

/** Seconds per timed run: BENCH_SECONDS, default 5. */
export const seconds = Number(process.env.BENCH_SECONDS ?? 5);
export const json = process.argv.includes('--json');

const format = (value: number) => Math.round(value).toLocaleString('en-US');

/** Prints the rows as a table (or JSON with --json) and returns false if a target was missed. */
export function report(title: string, facts: string[], rows: Row[]): boolean {
  const results = rows.map((row) => ({ ...row, ratio: row.ours / row.baseline, met: row.ours / row.baseline >= row.target }));
  if (json) {
    process.stdout.write(`${JSON.stringify({ title, facts, cpus: cpus().length, seconds, results }, null, 2)}\n`);
  } else {
    const nameWidth = Math.max(12, ...results.map((row) => row.name.length)) + 2;
    const cell = (value: number, unit: string) => `${format(value)} ${unit}`.padStart(16);
    const lines = [
      title,
      `  ${[...facts, `${cpus().length} CPUs`].join(', ')}`,
      '',
      `  ${'benchmark'.padEnd(nameWidth)}${'ours'.padStart(16)}${'baseline'.padStart(16)}${'ratio'.padStart(8)}   target`,
      ...results.map(
        (row) =>
          `  ${row.name.padEnd(nameWidth)}${cell(row.ours, row.unit)}${cell(row.baseline, row.unit)}` +
          `${row.ratio.toFixed(2).padStart(8)}   ≥ ${row.target.toFixed(2)} ${row.met ? 'met' : 'MISSED'}`,
      ),
      '',
      ...results.map((row) => `  ${row.name}: the baseline is ${row.baselineName}${row.note ? `; ${row.note}` : ''}.`),
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return results.every((row) => row.met);
}

/** Runs `work` on `writers` concurrent loops for `seconds`, and returns operations per second. */
export async function throughput(writers: number, work: (writer: number, iteration: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let iteration = 0; performance.now() < end; iteration += 1) {
        await work(writer, iteration);
        done += 1;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/** Alternates ours and the baseline `rounds` times and keeps the median of each, so drift hits both. */
export async function compare(rounds: number, ours: (round: number) => Promise<number>, baseline: (round: number) => Promise<number>) {
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    b.push(await baseline(round));
    a.push(await ours(round));
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  return { ours: median(a), baseline: median(b) };
}
