import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { configuredBillingService, DEFAULT_CURRENCY, DEFAULT_RATE_CARD } from '@mycelium/billing';
import { loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { createLogger } from '@mycelium/telemetry';
import { freePort, openPostgresTestStore, openTestBus, type TestBus, type TestStore, uniqueName } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineCreditsCommand } from './credits.command.js';

/** Runs `myc <args>` in this process against the test's grid; the exit code is what the process would exit with. */
async function myc(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('myc').exitOverride().configureOutput({ writeOut: (text) => out.push(text), writeErr: (text) => err.push(text) });
  defineCreditsCommand(program, { write: (text) => out.push(text) });
  let code = 0;
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    code = error.exitCode;
  }
  return { code, out: out.join(''), err: err.join('') };
}

describe('myc credits', () => {
  let db: TestStore;
  let bus: TestBus;
  let runtime: Runtime;
  let billing: RunningService;
  const saved = { NATS_URL: process.env.NATS_URL, MYCELIUM_NAMESPACE: process.env.MYCELIUM_NAMESPACE, MYCELIUM_HOME: process.env.MYCELIUM_HOME };
  const tenant = uniqueName('cli-');

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const dir = mkdtempSync(join(tmpdir(), 'myc-credits-'));
    const gridConfig = { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace };
    runtime = await openRuntime({ config: gridConfig, topology: bus.topology, logger: createLogger({ name: 'myc-credits-test', level: 'silent' }), relay: false });
    billing = await startService(
      configuredBillingService({
        periodMs: 60_000,
        graceMs: 300_000,
        lowBalancePeriods: 3,
        rates: DEFAULT_RATE_CARD,
        currency: DEFAULT_CURRENCY,
        priceSources: ['fixed:0.01'],
        maxSlippagePercent: '5',
        priceTimeoutMs: 2000,
      }),
      runtime,
      { port: 0 },
    );
    // myc finds the grid as an operator's shell would: NATS_URL and the namespace, no local grid files.
    Object.assign(process.env, { NATS_URL: bus.natsUrl, MYCELIUM_NAMESPACE: bus.topology.namespace, MYCELIUM_HOME: dir });
  });
  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await billing?.stop();
    await runtime?.close();
    await bus?.dispose();
    await db?.dispose();
  });

  it('adds credits once per reference and shows the balance', async () => {
    expect(await myc('credits', 'add', '25', '--reference', 'invoice-1', '--tenant', tenant)).toEqual({ code: 0, out: `credited 25 to ${tenant}: the balance is 25\n`, err: '' });
    expect((await myc('credits', 'add', '25', '--reference', 'invoice-1', '--tenant', tenant)).out).toBe(`invoice-1 was credited before, so nothing changed: the balance of ${tenant} is 25\n`);
    expect(await myc('credits', 'add', '0.5', '--tenant', tenant, '--reference', 'invoice-2', '--json')).toMatchObject({ code: 0 });
    expect((await myc('credits', '--tenant', tenant)).out).toBe(`${tenant}: 25.5 TFC to spend, 0 TFC reserved (Mycelium Credits; 1 TFC = 1 USD)\n`);
    expect(JSON.parse((await myc('credits', '--tenant', tenant, '--json')).out)).toEqual({
      tenant,
      balance: '25.5',
      reserved: '0',
      currency: { code: 'TFC', name: 'Mycelium Credits', symbol: 'TFC', usdRate: '1' },
    });
  });

  it('shows the newest ledger entries, saying when there are more', async () => {
    const shown = await myc('credits', 'ledger', '--tenant', tenant, '--limit', '1');
    expect(shown.code).toBe(0);
    const lines = shown.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AT\s+TYPE\s+DEBIT\s+CREDIT\s+AMOUNT\s+REFERENCE$/);
    expect(lines[1]).toMatch(new RegExp(`credits-topped-up\\s+external:payments\\s+tenant:${tenant}:available\\s+0\\.5\\s+invoice-2$`));
    expect(lines[2]).toBe('(the newest 1 of 2 entries; --limit 2 shows more)');
    expect(JSON.parse((await myc('credits', 'ledger', '--tenant', tenant, '--json')).out)).toMatchObject({ total: 2, entries: [{ reference: 'invoice-1' }, { reference: 'invoice-2' }] });
    expect((await myc('credits', 'ledger', '--tenant', uniqueName('empty-'))).out).toMatch(/no ledger entries yet: myc credits add/);
  });

  it('says what is wrong with a bad amount, limit, tenant or a missing reference, and exits non-zero', async () => {
    for (const [args, message] of [
      [['credits', 'add', 'ten', '--reference', 'r'], /the amount must be a decimal such as 25 or 12\.50.*not ten/],
      [['credits', 'add', '0', '--reference', 'r'], /more than zero/],
      [['credits', 'add', '5'], /required option '--reference <reference>'/],
      [['credits', 'ledger', '--limit', '0'], /--limit must be a whole number from 1 to 1000, not 0/],
      [['credits', '--tenant', 'Not_A_Tenant'], /--tenant must be lower-case/],
    ] as const) {
      const run = await myc(...args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.err, args.join(' ')).toMatch(message);
    }
  });

  it('says to start a grid when none answers, or the billing service when it is not running', async () => {
    const port = await freePort();
    process.env.NATS_URL = `nats://127.0.0.1:${port}`;
    try {
      const unreachable = await myc('credits', '--tenant', tenant);
      expect(unreachable.code).toBe(1);
      expect(unreachable.err).toMatch(new RegExp(`no grid answers at nats://127.0.0.1:${port}: start one with \`npm start\``));
    } finally {
      process.env.NATS_URL = bus.natsUrl;
    }
    process.env.MYCELIUM_NAMESPACE = uniqueName('nobody');
    try {
      const absent = await myc('credits', 'add', '1', '--reference', 'r', '--tenant', tenant);
      expect(absent.code).toBe(1);
      expect(absent.err).toMatch(/no billing service is running .*start it and retry/);
    } finally {
      process.env.MYCELIUM_NAMESPACE = bus.topology.namespace;
    }
  });
});
