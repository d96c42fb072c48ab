import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GRID_SERVICES } from '@mycelium/contracts';
import { type EventStore, openEventStore } from '@mycelium/eventstore';
import { openPostgresTestStore, openTestBus, startProcess, type TestBus, type TestProcess, type TestStore, waitFor } from '@mycelium/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const myc = join(import.meta.dirname, '..', '..', 'apps', 'cli', 'dist', 'main.js');
/** The six services and the gateway in front of them. */
const PROCESSES = GRID_SERVICES.length + 1;

/** `myc up` as `npm start` runs it, in a home directory of its own unless one is given. */
function up(env: NodeJS.ProcessEnv, home = mkdtempSync(join(tmpdir(), 'mycelium-up-')), nodes = 0): TestProcess {
  const clean = { ...env, MYCELIUM_HOME: home, DATABASE_URL: env.DATABASE_URL ?? '', NATS_URL: env.NATS_URL ?? '' };
  return startProcess('myc up', myc, ['up', '--port-base', '0', '--nodes', String(nodes)], clean);
}

/** Runs a `myc` command against the grid in `home` and returns its output. */
async function mycIn(home: string, args: string[]): Promise<{ code: number | string | null; stdout: string }> {
  const command = startProcess('myc', myc, args, { MYCELIUM_HOME: home, NATS_URL: '' });
  const code = await command.exited;
  return { code, stdout: [...command.text, ...command.logs.map((line) => JSON.stringify(line))].join('\n') };
}

async function healthzUrls(grid: TestProcess): Promise<string[]> {
  await waitFor(() => grid.text.some((line) => line.startsWith('Press Ctrl-C')), { timeoutMs: 90_000, what: 'the grid summary' });
  return grid.text.map((line) => /(http:\/\/\S+\/healthz)/.exec(line)?.[1]).filter((url): url is string => Boolean(url));
}

async function instanceEvents(store: EventStore): Promise<string[]> {
  const { events } = await store.readAll({ maxCount: 1000 });
  return events.map((event) => event.type);
}

describe('myc up (npm start)', () => {
  const grids: TestProcess[] = [];
  afterEach(async () => {
    await Promise.all(grids.splice(0).map((grid) => grid.kill('SIGKILL')));
  });

  it('starts NATS itself (operator mode), every service on the embedded store and local agents; Ctrl-C stops them and records it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mycelium-up-'));
    const grid = up({}, home, 3);
    grids.push(grid);
    const urls = await healthzUrls(grid);
    expect(urls).toHaveLength(PROCESSES);
    expect(grid.text.join('\n')).toMatch(/NATS\s+nats:\/\/127\.0\.0\.1:\d+ \(started by myc\)/);
    expect(grid.text.join('\n')).toMatch(/network\s+net-[0-9a-f]{16} \(NATS in operator mode\)/);

    // The REST API answers with the admin key it printed and kept, and only with it.
    const credentials = join(home, 'credentials.json');
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    const { apiKey, gateway } = JSON.parse(readFileSync(credentials, 'utf8')) as { apiKey: string; gateway: string };
    expect(grid.text.join('\n')).toContain(apiKey);
    const api = await fetch(`${gateway}/v1/nodes`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(api.status).toBe(200);
    expect(((await api.json()) as { total: number }).total).toBe(3);
    expect((await fetch(`${gateway}/v1/nodes`)).status).toBe(401);
    expect(grid.text.join('\n')).toMatch(/nodes\s+3 local agents/);

    // The registry lists them, through the operator's own credentials.
    const listed = await mycIn(home, ['nodes', '--json']);
    expect(listed.code).toBe(0);
    const nodes = JSON.parse(listed.stdout) as { nodeId: string; status: string }[];
    expect(nodes).toHaveLength(3);
    expect(nodes.every((node) => node.status === 'alive')).toBe(true);
    const shown = await mycIn(home, ['nodes', 'show', nodes[0]!.nodeId.slice(0, 8)]);
    expect(shown.stdout).toMatch(/history:\n\s+\S+\s+node-joined/);
    for (const url of urls) {
      const response = await fetch(url);
      expect(response.status, url).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'ok', checks: { nats: 'connected', eventStore: 'ok' } });
    }
    const dataDir = /embedded PGlite in (\S+)/.exec(grid.text.join('\n'))![1]!;

    // A second grid in the same home would take the first one's NATS and store: refused.
    const second = up({}, home);
    grids.push(second);
    expect(await second.exited).toBe(1);
    expect(second.text.join('\n')).toMatch(/^myc: a grid is already running from .* \(myc, pid \d+\)/);
    expect((await fetch(urls[0]!)).status).toBe(200);

    grid.child.kill('SIGINT');
    expect(await grid.exited).toBe(0);
    expect(grid.text).toContain('grid stopped');
    expect(existsSync(`${dataDir}.lock`)).toBe(false);

    const store = await openEventStore({ dataDir });
    try {
      const types = await instanceEvents(store);
      for (const service of GRID_SERVICES) {
        expect(types).toContain(`mycelium.${service}.instance-started.v1`);
        expect(types).toContain(`mycelium.${service}.instance-stopped.v1`);
      }
      // The agents left cleanly before the services stopped.
      expect(types.filter((type) => type === 'mycelium.spores.node-left.v1')).toHaveLength(3);
    } finally {
      await store.close();
    }
  });

  describe('on PostgreSQL', () => {
    let db: TestStore;
    let bus: TestBus;
    beforeAll(async () => {
      db = await openPostgresTestStore();
      bus = await openTestBus();
    });
    afterAll(async () => {
      await bus?.dispose();
      await db?.dispose();
    });

    it('runs each service as its own process on NATS_URL and DATABASE_URL, with one active relay', async () => {
      const grid = up({
        NATS_URL: bus.natsUrl,
        DATABASE_URL: db.databaseUrl,
        MYCELIUM_DB_SCHEMA: db.schema,
        MYCELIUM_NAMESPACE: bus.topology.namespace,
      });
      grids.push(grid);
      const urls = await healthzUrls(grid);
      expect(urls).toHaveLength(PROCESSES);
      const health = async () =>
        Promise.all(urls.map(async (url) => (await (await fetch(url)).json()) as { pid: number; checks: { relay: string } }));
      const states = await waitFor(
        async () => {
          const all = await health();
          return all.filter((one) => one.checks.relay === 'active').length === 1 && all;
        },
        { what: 'exactly one active relay' },
      );
      expect(states.filter((one) => one.checks.relay === 'standby')).toHaveLength(PROCESSES - 1);
      expect(new Set(states.map((one) => one.pid)).size).toBe(PROCESSES);

      grid.child.kill('SIGINT');
      expect(await grid.exited).toBe(0);
      const types = await instanceEvents(db.store);
      expect(types.filter((type) => type.endsWith('instance-stopped.v1'))).toHaveLength(PROCESSES);
    });

    it('stops the whole grid, and says which service died, when a service process crashes', async () => {
      const grid = up({
        NATS_URL: bus.natsUrl,
        DATABASE_URL: db.databaseUrl,
        MYCELIUM_DB_SCHEMA: db.schema,
        MYCELIUM_NAMESPACE: bus.topology.namespace,
      });
      grids.push(grid);
      const urls = await healthzUrls(grid);
      const billing = (await (await fetch(urls[GRID_SERVICES.indexOf('billing')]!)).json()) as { pid: number };
      process.kill(billing.pid, 'SIGKILL');
      expect(await grid.exited).toBe(1);
      expect(grid.text.join('\n')).toMatch(/billing exited unexpectedly \(SIGKILL\)/);
      for (const url of urls) await expect(fetch(url)).rejects.toThrow();
    });
  });

  it('stops with one line saying how to get NATS when there is none', async () => {
    const grid = up({ NATS_SERVER_BIN: '/nonexistent/nats-server' });
    grids.push(grid);
    expect(await grid.exited).toBe(1);
    expect(grid.text).toHaveLength(1);
    expect(grid.text[0]).toMatch(/^myc: no NATS server: set NATS_URL=.*apt-get install nats-server/);
  });
});
