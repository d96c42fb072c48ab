import pg from 'pg';
import type { Lease, QueryOptions, SqlExecutor, SqlResult } from '../types.js';
import { type DriverLogger, SignalledLease, type SqlDriver, silentLogger } from './driver.js';

export interface PostgresDriverOptions {
  connectionString: string;
  /** NOTIFY channel used to wake subscribers in other processes. */
  channel: string;
  poolSize?: number;
  /** How often a held lease proves its connection is still alive. */
  leaseCheckMs?: number;
  /** Longest delay before other processes hear of an append; appends within it share one NOTIFY. */
  notifyIntervalMs?: number;
  logger?: DriverLogger;
}

export class PostgresDriver implements SqlDriver {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #options: PostgresDriverOptions;
  readonly #logger: DriverLogger;
  readonly #listeners = new Set<() => void>();
  readonly #leases = new Set<SignalledLease>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #listenClient: pg.Client | undefined;
  #listenStarting: Promise<void> | undefined;
  #notifyClient: pg.Client | undefined;
  #notifyTimer: NodeJS.Timeout | undefined;
  #notifyWanted = false;
  #notifying = false;
  #closed = false;

  constructor(options: PostgresDriverOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      application_name: 'mycelium',
    });
    // An idle client that loses its server emits here; without a listener the process would crash.
    this.#pool.on('error', (error) => this.#logger.warn('idle PostgreSQL connection failed', error));
  }

  async query<Row>(text: string, params?: unknown[], options?: QueryOptions): Promise<SqlResult<Row>> {
    const result = await this.#tracked(this.#pool.query({ text, values: params, name: options?.prepareAs }));
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  }

  /**
   * Remembers work in flight until it settles, for close() to wait on: pg-pool's end() drops
   * callers still queued for a connection, whose promises would then never settle.
   */
  #tracked<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    const forget = () => this.#inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.#tracked(this.#pool.connect());
    const tx: SqlExecutor = {
      query: async <Row>(text: string, params?: unknown[], options?: QueryOptions) => {
        const result = await client.query({ text, values: params, name: options?.prepareAs });
        return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
      },
    };
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(tx);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // The connection is unusable; drop it from the pool instead of handing it out again.
        broken = rollbackError as Error;
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  announceAppend(): void {
    if (this.#closed) return;
    // Subscribers in this process need no round trip through the server.
    for (const listener of this.#listeners) listener();
    // Other processes: at most one NOTIFY per interval, on a connection of its own, so writers
    // never wait behind it. Subscribers also poll, so a lost notification only delays them.
    this.#notifyWanted = true;
    this.#scheduleNotify();
  }

  #scheduleNotify(): void {
    if (this.#notifyTimer || this.#notifying || !this.#notifyWanted || this.#closed) return;
    this.#notifyTimer = setTimeout(async () => {
      this.#notifyTimer = undefined;
      this.#notifyWanted = false;
      this.#notifying = true;
      await this.#notify();
      this.#notifying = false;
      this.#scheduleNotify();
    }, this.#options.notifyIntervalMs ?? 2);
  }

  async #notify(): Promise<void> {
    try {
      if (!this.#notifyClient) {
        const client = new pg.Client({ connectionString: this.#options.connectionString, application_name: 'mycelium-notify' });
        client.on('error', () => {
          if (this.#notifyClient === client) this.#notifyClient = undefined;
        });
        this.#notifyClient = client;
        await client.connect();
      }
      await this.#notifyClient.query('SELECT pg_notify($1, $2)', [this.#options.channel, '']);
    } catch (error) {
      this.#notifyClient?.end().catch(() => undefined);
      this.#notifyClient = undefined;
      this.#logger.warn('could not announce an append', error);
    }
  }

  async onAppend(listener: () => void): Promise<() => Promise<void>> {
    this.#listeners.add(listener);
    await this.#ensureListening();
    return async () => {
      this.#listeners.delete(listener);
    };
  }

  async #ensureListening(): Promise<void> {
    if (this.#listenClient || this.#closed) return;
    this.#listenStarting ??= this.#startListening().finally(() => (this.#listenStarting = undefined));
    return this.#listenStarting;
  }

  async #startListening(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#options.connectionString, application_name: 'mycelium-listen' });
    const reconnect = (error?: unknown) => {
      if (this.#listenClient !== client) return;
      this.#listenClient = undefined;
      if (error) this.#logger.warn('lost the PostgreSQL notification connection; polling until it is back', error);
      client.end().catch(() => undefined);
      if (!this.#closed) setTimeout(() => void this.#ensureListening().catch(() => undefined), 1000).unref();
    };
    client.on('notification', () => {
      for (const listener of this.#listeners) listener();
    });
    client.on('error', reconnect);
    client.on('end', () => reconnect());
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#options.channel}"`);
      if (this.#closed) {
        await client.end().catch(() => undefined);
        return;
      }
      this.#listenClient = client;
      // Events committed while we were not listening would otherwise wait for the next poll.
      for (const listener of this.#listeners) listener();
    } catch (error) {
      await client.end().catch(() => undefined);
      this.#logger.warn('could not listen for appends; subscribers will poll', error);
      if (!this.#closed) setTimeout(() => void this.#ensureListening().catch(() => undefined), 1000).unref();
    }
  }

  async tryAcquireLease(name: string): Promise<Lease | undefined> {
    // Keep-alives and a bounded check notice a server that silently went away (a failover), so
    // the lease is given up instead of believed held.
    const client = new pg.Client({
      connectionString: this.#options.connectionString,
      application_name: `mycelium-lease:${name}`,
      keepAlive: true,
    });
    await client.connect();
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return undefined;
    }
    let acquired = false;
    try {
      const result = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [name],
      );
      acquired = result.rows[0]?.locked === true;
    } finally {
      if (!acquired) await client.end().catch(() => undefined);
    }
    if (!acquired) return undefined;

    // The lock lives exactly as long as this session: if the process dies, PostgreSQL sees the
    // socket close and frees it for the next candidate.
    let timer: NodeJS.Timeout | undefined;
    const lease = new SignalledLease(name, async () => {
      clearInterval(timer);
      this.#leases.delete(lease);
      await withTimeout(client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [name]), 2000).catch(() => undefined);
      await client.end().catch(() => undefined);
    });
    const lose = (error?: unknown) => {
      if (!lease.isHeld) return;
      if (error) this.#logger.warn(`lease ${name} lost`, error);
      clearInterval(timer);
      this.#leases.delete(lease);
      lease.markLost();
      client.end().catch(() => undefined);
    };
    client.on('error', lose);
    client.on('end', () => lose());
    const checkEvery = this.#options.leaseCheckMs ?? 2000;
    let checking = false;
    timer = setInterval(() => {
      if (checking) return;
      checking = true;
      withTimeout(client.query('SELECT 1'), checkEvery)
        .catch(lose)
        .finally(() => (checking = false));
    }, checkEvery);
    timer.unref();
    this.#leases.add(lease);
    return lease;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await Promise.all([...this.#leases].map((lease) => lease.release()));
    clearTimeout(this.#notifyTimer);
    const clients = [this.#listenClient, this.#notifyClient];
    this.#listenClient = undefined;
    this.#notifyClient = undefined;
    await Promise.all(clients.map((client) => client?.end().catch(() => undefined)));
    await Promise.allSettled([...this.#inFlight]);
    await this.#pool.end();
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from PostgreSQL within ${ms} ms`)), ms);
    work.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
