import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { StoreLockedError } from '../errors.js';
import type { Lease, SqlExecutor, SqlResult } from '../types.js';
import { SignalledLease, type SqlDriver } from './driver.js';

const INT8_OID = 20;

export interface PGliteDriverOptions {
  /** Directory of the database files; undefined keeps the database in memory. */
  dataDir?: string;
}

/**
 * Embedded PostgreSQL (PGlite) in this process. Only one process may open a data directory, so a
 * lock file next to it names the owner; every service of a local grid shares this one instance.
 */
export class PGliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  readonly #db: PGlite;
  readonly #listeners = new Set<() => void>();
  readonly #leases = new Map<string, SignalledLease>();
  readonly #lockFile: string | undefined;

  private constructor(db: PGlite, lockFile: string | undefined) {
    this.#db = db;
    this.#lockFile = lockFile;
  }

  static async open(options: PGliteDriverOptions = {}): Promise<PGliteDriver> {
    const lockFile = options.dataDir ? `${options.dataDir}.lock` : undefined;
    if (options.dataDir && lockFile) {
      mkdirSync(dirname(options.dataDir), { recursive: true });
      takeLock(options.dataDir, lockFile);
    }
    try {
      const db = new PGlite({
        dataDir: options.dataDir,
        // int8 positions exceed 2^53; keep them as text and let the store turn them into bigint.
        parsers: { [INT8_OID]: (value: string) => value },
      });
      await db.waitReady;
      return new PGliteDriver(db, lockFile);
    } catch (error) {
      if (lockFile) rmSync(lockFile, { force: true });
      throw error;
    }
  }

  async query<Row>(text: string, params?: unknown[]): Promise<SqlResult<Row>> {
    const result = await this.#db.query<Row>(text, params);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#db.transaction(async (tx) =>
      work({
        query: async <Row>(text: string, params?: unknown[]) => {
          const result = await tx.query<Row>(text, params);
          return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
        },
      }),
    );
  }

  announceAppend(): void {
    // Every reader of an embedded store lives in this process: wake them directly.
    for (const listener of this.#listeners) listener();
  }

  async onAppend(listener: () => void): Promise<() => Promise<void>> {
    this.#listeners.add(listener);
    return async () => {
      this.#listeners.delete(listener);
    };
  }

  async tryAcquireLease(name: string): Promise<Lease | undefined> {
    if (this.#leases.get(name)?.isHeld) return undefined;
    const lease = new SignalledLease(name, async () => {
      this.#leases.delete(name);
    });
    this.#leases.set(name, lease);
    return lease;
  }

  async close(): Promise<void> {
    if (this.#db.closed) return;
    this.#listeners.clear();
    await Promise.all([...this.#leases.values()].map((lease) => lease.release()));
    await this.#db.close();
    if (this.#lockFile) rmSync(this.#lockFile, { force: true });
  }
}

function takeLock(dataDir: string, lockFile: string): void {
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
  if (Number.isInteger(holder) && isAlive(holder)) {
    throw new StoreLockedError(dataDir, holder);
  }
  // The previous owner died without cleaning up. Remove its file and claim it exclusively again,
  // so of two processes finding the same stale file only one wins.
  rmSync(lockFile, { force: true });
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new StoreLockedError(dataDir, Number.parseInt(readFileSync(lockFile, 'utf8'), 10));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
