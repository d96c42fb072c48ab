import type { EventStore, ReadAllFilter, RecordedEvent } from './types.js';

/** A row of a read model: plain JSON. */
export type ProjectionRow = Record<string, unknown>;

/**
 * A persistent read model, pure: for each event, the rows it changes. `version` names the code:
 * a generation built by another version is rebuilt. Rows are kept with every version they had at
 * the end of each page the runner folded (all of them stamped with the page's last position), so
 * the projection can be read as it stood at each of those points (docs/adr/0021).
 */
export interface ProjectionDefinition {
  name: string;
  version: string;
  /** Only these events are folded (by stream prefix or type); none: every event. */
  filter?: ReadAllFilter;
  /** The rows `event` changes and their new values (undefined: removed), given the rows as they are. */
  evolve(event: RecordedEvent, rowOf: (key: string) => ProjectionRow | undefined): { key: string; row: ProjectionRow | undefined }[];
}

export interface ProjectionGeneration {
  projection: string;
  generation: number;
  codeVersion: string;
  status: 'building' | 'active' | 'retired';
  /** Every event up to here has been folded in. */
  position: bigint;
  startedAt: Date;
  activatedAt?: Date;
}

const PAGE = 5000;

interface GenerationRow {
  projection: string;
  generation: number;
  code_version: string;
  status: ProjectionGeneration['status'];
  position: string;
  started_at: Date;
  activated_at: Date | null;
}

const generationOf = (row: GenerationRow): ProjectionGeneration => ({
  projection: row.projection,
  generation: Number(row.generation),
  codeVersion: row.code_version,
  status: row.status,
  position: BigInt(row.position),
  startedAt: new Date(row.started_at),
  ...(row.activated_at ? { activatedAt: new Date(row.activated_at) } : {}),
});

/** The generations of `projection`, oldest first. */
export async function projectionGenerations(store: EventStore, projection: string): Promise<ProjectionGeneration[]> {
  const { rows } = await store.query<GenerationRow>(
    `SELECT projection, generation, code_version, status, position::text AS position, started_at, activated_at
     FROM ${store.schema}.projection_generations WHERE projection = $1 ORDER BY generation`,
    [projection],
  );
  return rows.map(generationOf);
}

/** A new generation, empty, building from the start of the log. */
export async function startGeneration(store: EventStore, definition: ProjectionDefinition): Promise<ProjectionGeneration> {
  const { rows } = await store.query<GenerationRow>(
    `INSERT INTO ${store.schema}.projection_generations (projection, generation, code_version, status)
     SELECT $1, COALESCE(max(generation), 0) + 1, $2, 'building' FROM ${store.schema}.projection_generations WHERE projection = $1
     RETURNING projection, generation, code_version, status, position::text AS position, started_at, activated_at`,
    [definition.name, definition.version],
  );
  return generationOf(rows[0]!);
}

/** Makes `generation` the one that serves, retiring the others and dropping their rows, at once. */
export async function activateGeneration(store: EventStore, projection: string, generation: number): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.query(`UPDATE ${tx.schema}.projection_generations SET status = 'retired' WHERE projection = $1 AND generation <> $2 AND status <> 'retired'`, [projection, generation]);
    await tx.query(`UPDATE ${tx.schema}.projection_generations SET status = 'active', activated_at = now() WHERE projection = $1 AND generation = $2`, [projection, generation]);
    await tx.query(`DELETE FROM ${tx.schema}.projection_rows WHERE projection = $1 AND generation <> $2`, [projection, generation]);
  });
}

export interface RowsQuery {
  /** As they stood at this position (default: as they are). */
  position?: bigint;
  /** Only these keys. */
  keys?: string[];
  /** Only keys starting with this. */
  keyPrefix?: string;
  limit?: number;
}

/** A generation's rows, as they stand or stood. */
export async function projectionRows(store: EventStore, projection: string, generation: number, query: RowsQuery = {}): Promise<Map<string, ProjectionRow>> {
  const params: unknown[] = [projection, generation, (query.position ?? 2n ** 62n).toString()];
  const where: string[] = [];
  if (query.keys) {
    params.push(query.keys);
    where.push(`key = ANY($${params.length}::text[])`);
  }
  if (query.keyPrefix) {
    params.push(`${query.keyPrefix.replace(/[\\%_]/g, (match) => `\\${match}`)}%`);
    where.push(`key LIKE $${params.length}`);
  }
  const { rows } = await store.query<{ key: string; value: ProjectionRow | null }>(
    `SELECT key, value FROM (
       SELECT DISTINCT ON (key) key, value FROM ${store.schema}.projection_rows
       WHERE projection = $1 AND generation = $2 AND position <= $3::bigint ${where.map((condition) => `AND ${condition}`).join(' ')}
       ORDER BY key, position DESC
     ) latest WHERE value IS NOT NULL ORDER BY key ${query.limit ? `LIMIT ${Math.floor(query.limit)}` : ''}`,
    params,
  );
  return new Map(rows.map((row) => [row.key, row.value!]));
}

/** One row's value after one event (undefined: removed). */
export interface RowChange {
  key: string;
  row: ProjectionRow | undefined;
  position: bigint;
}

/** Folds `events` into `rows` (changed in place); returns every change, event by event, so each version is kept. */
export function foldProjection(definition: ProjectionDefinition, rows: Map<string, ProjectionRow>, events: RecordedEvent[]): RowChange[] {
  const changes: RowChange[] = [];
  for (const event of events) {
    const byKey = new Map<string, ProjectionRow | undefined>();
    for (const { key, row } of definition.evolve(event, (wanted) => (byKey.has(wanted) ? byKey.get(wanted) : rows.get(wanted)))) byKey.set(key, row);
    for (const [key, row] of byKey) {
      if (row === undefined) rows.delete(key);
      else rows.set(key, row);
      changes.push({ key, row, position: event.position });
    }
  }
  return changes;
}

export interface ProjectionProgress {
  position: bigint;
  head: bigint;
  events: number;
}

/**
 * Keeps one generation of a projection: its rows in memory, folded page by page from where the
 * generation stands, each page's changes and the new position written in one transaction.
 */
export class ProjectionRunner {
  readonly rows: Map<string, ProjectionRow>;
  #position: bigint;
  #events = 0;

  private constructor(
    private readonly store: EventStore,
    readonly definition: ProjectionDefinition,
    readonly generation: number,
    rows: Map<string, ProjectionRow>,
    position: bigint,
  ) {
    this.rows = rows;
    this.#position = position;
  }

  /** A runner for `generation`, its rows loaded as they are. */
  static async open(store: EventStore, definition: ProjectionDefinition, generation: ProjectionGeneration): Promise<ProjectionRunner> {
    return new ProjectionRunner(store, definition, generation.generation, await projectionRows(store, definition.name, generation.generation), generation.position);
  }

  get position(): bigint {
    return this.#position;
  }

  /** Folds one page of the log from where it stands; false once it has caught up. */
  async step(): Promise<boolean> {
    const page = await this.store.readAll({ ...this.definition.filter, after: this.#position, maxCount: PAGE });
    const changes = foldProjection(this.definition, this.rows, page.events);
    this.#events += page.events.length;
    if (page.next === this.#position && changes.length === 0) return false;
    // A row's last value in the page, stamped with the page's last position: the point it is recorded at.
    const last = new Map(changes.map((change) => [change.key, change.row]));
    const at = page.events.at(-1)?.position.toString();
    const entries = [...last].map(([key, row]) => ({ key, position: at, value: row ?? null }));
    await this.store.transaction(async (tx) => {
      if (entries.length > 0) {
        await tx.query(
          `INSERT INTO ${tx.schema}.projection_rows (projection, generation, key, position, value)
           SELECT $1, $2, r.key, r.position::bigint, r.value FROM jsonb_to_recordset($3::jsonb) AS r(key text, position text, value jsonb)`,
          [this.definition.name, this.generation, JSON.stringify(entries)],
        );
      }
      await tx.query(`UPDATE ${tx.schema}.projection_generations SET position = $3::bigint WHERE projection = $1 AND generation = $2`, [
        this.definition.name,
        this.generation,
        page.next.toString(),
      ]);
    });
    this.#position = page.next;
    return page.isFull;
  }

  /** Folds until caught up with the log, telling `onProgress` after each page. */
  async catchUp(onProgress?: (progress: ProjectionProgress) => void, signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) return;
      const more = await this.step();
      onProgress?.({ position: this.#position, head: await this.store.headPosition(), events: this.#events });
      if (!more) return;
    }
  }
}

/** JSON with every object's keys sorted: PostgreSQL's jsonb keeps its own key order. */
export function canonical(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item,
  );
}

export interface ReplayDifference {
  key: string;
  recorded?: ProjectionRow;
  replayed?: ProjectionRow;
}

/** The newest point at or before `position` at which a generation recorded its rows (0n: none yet). */
export async function recordedPointAt(store: EventStore, projection: string, generation: number, position: bigint): Promise<bigint> {
  const { rows } = await store.query<{ position: string | null }>(
    `SELECT max(position)::text AS position FROM ${store.schema}.projection_rows WHERE projection = $1 AND generation = $2 AND position <= $3::bigint`,
    [projection, generation, position.toString()],
  );
  return rows[0]?.position ? BigInt(rows[0].position) : 0n;
}

/**
 * A slice of the log replayed through `definition` (its current code) on top of the rows a
 * generation recorded at the slice's start, compared with what it recorded at its end: every key
 * the slice touched whose row differs. The ends are moved back to the nearest points the
 * generation recorded rows at, where its record is exact. The recorded projection is only read.
 */
export async function replayProjection(
  store: EventStore,
  definition: ProjectionDefinition,
  generation: number,
  asked: { from: bigint; to: bigint; filter?: ReadAllFilter },
): Promise<{ from: bigint; to: bigint; events: number; touched: number; differences: ReplayDifference[] }> {
  const slice = {
    ...asked,
    from: await recordedPointAt(store, definition.name, generation, asked.from),
    to: await recordedPointAt(store, definition.name, generation, asked.to),
  };
  const rows = await projectionRows(store, definition.name, generation, { position: slice.from });
  const touched = new Set<string>();
  let events = 0;
  for (let after = slice.from; after < slice.to; ) {
    const page = await store.readAll({ ...definition.filter, ...slice.filter, after, maxCount: PAGE });
    const inSlice = page.events.filter((event) => event.position <= slice.to);
    for (const { key } of foldProjection(definition, rows, inSlice)) touched.add(key);
    events += inSlice.length;
    if (!page.isFull || inSlice.length < page.events.length) break;
    after = page.next;
  }
  const recorded = await projectionRows(store, definition.name, generation, { position: slice.to, keys: [...touched] });
  const differences: ReplayDifference[] = [];
  for (const key of [...touched].sort()) {
    const mine = rows.get(key);
    const theirs = recorded.get(key);
    if (canonical(mine) !== canonical(theirs)) differences.push({ key, ...(theirs ? { recorded: theirs } : {}), ...(mine ? { replayed: mine } : {}) });
  }
  return { from: slice.from, to: slice.to, events, touched: touched.size, differences };
}
