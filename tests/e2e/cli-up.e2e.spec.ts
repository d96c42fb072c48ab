import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresTestStore, openTestBus, requireBuilt, startProcess, type TestBus, type TestProcess, type TestStore, waitFor } from '@mycelium/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const myc = join(import.meta.dirname, '..', '..', 'apps', 'cli', 'dist', 'main.js');
/** The six services and the gateway in front of them. */
const PROCESSES = 7;

/** Runs a `myc` command against the grid in `home`: its exit code and its output, unparsed. */
function mycIn(home: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [requireBuilt(myc), ...args], { env: { ...process.env, MYCELIUM_HOME: home, NATS_URL: '' }, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('myc up on PostgreSQL', () => {
  let db: TestStore;
  let bus: TestBus;
  const grids: TestProcess[] = [];
  const env = () => ({ NATS_URL: bus.natsUrl, DATABASE_URL: db.databaseUrl, MYCELIUM_DB_SCHEMA: db.schema, MYCELIUM_NAMESPACE: bus.topology.namespace });

  /** `myc up` in `home`, with one local agent. */
  const up = (home: string, ...extra: string[]) => {
    const grid = startProcess('myc up', myc, ['up', '--port-base', '0', '--nodes', '1', ...extra], { ...env(), MYCELIUM_HOME: home });
    grids.push(grid);
    return grid;
  };
  const summary = (grid: TestProcess) =>
    waitFor(() => grid.text.some((line) => line.startsWith('Press Ctrl-C')) && grid.text.join('\n'), { timeoutMs: 90_000, what: 'the grid summary' });
  const stop = async (grid: TestProcess) => {
    grid.child.kill('SIGINT');
    expect(await grid.exited).toBe(0);
  };
  const credentials = (home: string) => JSON.parse(readFileSync(join(home, 'credentials.json'), 'utf8')) as { apiKey: string; gateway: string };

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
  });
  afterEach(async () => {
    // SIGTERM, so `myc up` stops the processes it started; SIGKILL only if it does not stop.
    await Promise.all(
      grids.splice(0).map(async (grid) => {
        const timer = setTimeout(() => grid.child.kill('SIGKILL'), 30_000);
        await grid.kill('SIGTERM');
        clearTimeout(timer);
      }),
    );
  });
  afterAll(async () => {
    await bus?.dispose();
    await db?.dispose();
  });

  it('shows a node’s newest events, saying how many it has and how to see more', async () => {
    const home = mkdtempSync(join(tmpdir(), 'myc-up-show-'));
    await summary(up(home));
    const listed = await mycIn(home, ['nodes', '--json']);
    const [{ nodeId }] = JSON.parse(listed.stdout) as { nodeId: string }[];
    await db.store.append(
      `spores/node/${nodeId}`,
      Array.from({ length: 150 }, (_, i) => ({
        type: 'mycelium.spores.node-trust-changed.v1',
        data: { nodeId, from: 0.5, to: 0.5, reason: `review ${i}`, at: new Date().toISOString() },
      })),
    );

    const shown = await mycIn(home, ['nodes', 'show', nodeId.slice(0, 8)]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/history \(the newest 100 of (\d+) events; --history \1 shows more\):/);
    expect(shown.stdout.split('\n').filter((line) => /^\s+\S+\s+node-[a-z-]+\s/.test(line))).toHaveLength(100);
    expect(shown.stdout).toContain('review 149');

    const json = await mycIn(home, ['nodes', 'show', nodeId, '--history', '3', '--json']);
    expect(json.code).toBe(0);
    const detail = JSON.parse(json.stdout) as { history: unknown[]; historyTotal: number; historyTruncated: boolean };
    expect(detail.history).toHaveLength(3);
    expect(detail.historyTotal).toBeGreaterThanOrEqual(151);
    expect(detail.historyTruncated).toBe(true);

    const refused = await mycIn(home, ['nodes', 'show', nodeId, '--history', '5000']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--history must be a whole number from 1 to 1000, not 5000/);
  });

  it('follows the log, manages API keys and rebuilds a projection, for operators', async () => {
    const home = mkdtempSync(join(tmpdir(), 'myc-up-operators-'));
    await summary(up(home));
    const [{ nodeId }] = JSON.parse((await mycIn(home, ['nodes', '--json'])).stdout) as { nodeId: string }[];

    // myc events tail: the node's events from the start of the log, as CloudEvents lines.
    const tail = startProcess('myc events tail', myc, ['events', 'tail', '--since', '0', '--subject', `spores/node/${nodeId}`, '--json'], { MYCELIUM_HOME: home, NATS_URL: '' });
    grids.push(tail);
    // Its lines are JSON: the test process keeps them with the log lines.
    const events = await waitFor(() => {
      const found = tail.logs.filter((line) => line.specversion === '1.0');
      return found.length > 0 ? found : undefined;
    }, { what: 'the node’s events' });
    expect(events[0]).toMatchObject({ type: 'mycelium.spores.node-joined.v1', subject: `spores/node/${nodeId}` });

    // myc keys: a tenant's key, listed without its secret, then revoked.
    const created = JSON.parse((await mycIn(home, ['keys', 'create', '--name', 'reader', '--scope', 'events:read', '--tenant', 'acme', '--json'])).stdout) as { keyId: string; key: string };
    expect(created.key).toMatch(/^myc_/);
    const gateway = credentials(home).gateway;
    expect((await fetch(`${gateway}/v1/events/schema`, { headers: { authorization: `Bearer ${created.key}` } })).status).toBe(200);
    expect((await mycIn(home, ['keys', 'revoke', created.keyId])).stdout).toMatch(/revoked/);
    const listed = JSON.parse((await mycIn(home, ['keys', 'list', '--tenant', 'acme', '--json'])).stdout) as { keyId: string; revokedAt?: string }[];
    expect(listed).toEqual([expect.objectContaining({ keyId: created.keyId, revokedAt: expect.any(String) })]);
    expect((await fetch(`${gateway}/v1/events/schema`, { headers: { authorization: `Bearer ${created.key}` } })).status).toBe(401);

    // myc projections rebuild: a new generation, then it serves.
    const rebuilt = await mycIn(home, ['projections', 'rebuild', 'aggregates', '--json']);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const last = JSON.parse(rebuilt.stdout.trim().split('\n').at(-1)!) as { status: string; generation: number };
    expect(last).toMatchObject({ status: 'active' });
    expect(last.generation).toBeGreaterThan(1);
    const aggregates = (await (await fetch(`${gateway}/v1/aggregates?prefix=spores/node/`, { headers: { authorization: `Bearer ${credentials(home).apiKey}` } })).json()) as { aggregates: { stream: string }[] };
    expect(aggregates.aggregates.map((aggregate) => aggregate.stream)).toContain(`spores/node/${nodeId}`);
  });

  it('puts a minimum agent version to the local agents: in force when they run it, refused when it would lock them out', async () => {
    const home = mkdtempSync(join(tmpdir(), 'myc-up-network-'));
    await summary(up(home));
    const [{ capabilities }] = JSON.parse((await mycIn(home, ['nodes', '--json'])).stdout) as { capabilities: { agentVersion: string } }[];
    const window = ['--commit-ms', '500', '--reveal-ms', '500'];

    const approved = await mycIn(home, ['network', 'propose', 'min-agent-version', capabilities.agentVersion, ...window, '--json']);
    expect(approved.code).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ status: 'approved', outcome: 'approve', value: capabilities.agentVersion });
    const shown = JSON.parse((await mycIn(home, ['network', 'show', '--json'])).stdout) as { minAgentVersion: string };
    expect(shown.minAgentVersion).toBe(capabilities.agentVersion);

    const lockedOut = await mycIn(home, ['network', 'propose', 'min-agent-version', '99.0.0', ...window]);
    expect(lockedOut.code).toBe(1);
    expect(lockedOut.stdout).toMatch(/min-agent-version 99\.0\.0 .* rejected \(reject\)/);
    const noRaise = await mycIn(home, ['network', 'propose', 'min-agent-version', '0.0.1']);
    expect(noRaise.code).toBe(1);
    expect(noRaise.stderr).toMatch(/propose a higher one \(value\)/);
  });

  it('keeps its admin key across restarts, and issues a new one only when the ready gateway refuses the stored one', async () => {
    const home = mkdtempSync(join(tmpdir(), 'myc-up-key-'));
    const first = up(home);
    await summary(first);
    const { apiKey } = credentials(home);
    await stop(first);

    const second = up(home);
    expect(await summary(second)).toContain(`admin key    ${apiKey}`);
    expect(credentials(home).apiKey).toBe(apiKey);
    await stop(second);

    // A key this grid never issued (say, credentials.json copied from another grid): refused, so replaced.
    const unknown = `myc_0123456789abcdef_${'A'.repeat(43)}`;
    writeFileSync(join(home, 'credentials.json'), JSON.stringify({ apiKey: unknown }), { mode: 0o600 });
    const third = up(home);
    const printed = await summary(third);
    const { apiKey: reissued, gateway } = credentials(home);
    expect(reissued).not.toBe(unknown);
    expect(printed).toContain(`admin key    ${reissued}`);
    expect(printed).toMatch(/the gateway does not know the admin key in .*credentials\.json.*: issuing a new one/);
    expect((await fetch(`${gateway}/v1/nodes`, { headers: { authorization: `Bearer ${reissued}` } })).status).toBe(200);
    await stop(third);
  });

  it('stops cleanly, saying which service died, when one dies while the grid is still starting', async () => {
    const home = mkdtempSync(join(tmpdir(), 'myc-up-dies-'));
    const grid = up(home, '--log-format', 'json');
    // Every service is up: `myc up` goes on to the admin key and the agent, which cannot join without spores.
    const upLines = await waitFor(
      () => {
        const lines = grid.logs.filter((line) => typeof line.msg === 'string' && line.msg.endsWith(' is up'));
        return lines.length === PROCESSES && lines;
      },
      { timeoutMs: 90_000, what: 'every service up' },
    );
    const spores = upLines.find((line) => line.msg === 'spores is up')!;
    process.kill(spores.pid as number, 'SIGKILL');

    expect(await grid.exited).toBe(1);
    const output = grid.text.join('\n');
    expect(output).toMatch(/^myc: spores exited unexpectedly \(SIGKILL\) while the grid was starting; stopped the grid \(see .*grid\.log\)$/m);
    expect(output).not.toMatch(/TypeError/);
    for (const line of upLines) await expect(fetch(`http://127.0.0.1:${line.port as number}/healthz`)).rejects.toThrow();
  });
});
