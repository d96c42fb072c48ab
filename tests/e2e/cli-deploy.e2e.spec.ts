import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, type TestProcess, waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const myc = join(root, 'apps', 'cli', 'dist', 'main.js');

/** A `myc` command against the grid in `home`: its exit code, its text and its JSON lines. */
async function run(home: string, args: string[]) {
  const command = startProcess('myc', myc, args, { MYCELIUM_HOME: home, NATS_URL: '', MYCELIUM_NETWORK_DIR: '', DATABASE_URL: '' });
  const code = await command.exited;
  return { code, out: command.text.join('\n'), json: command.logs };
}

describe('myc deploy on the local grid (npm start, then the CLI)', () => {
  const home = mkdtempSync(join(tmpdir(), 'myc-deploy-'));
  let grid: TestProcess;

  beforeAll(async () => {
    grid = startProcess('myc up', myc, ['up', '--port-base', '0', '--nodes', '3'], { MYCELIUM_HOME: home, NATS_URL: '', DATABASE_URL: '', MYCELIUM_INGRESS_PORT: '' });
    await waitFor(() => grid.text.some((line) => line.startsWith('Press Ctrl-C')), { timeoutMs: 120_000, what: 'the grid summary' });
  }, 150_000);
  afterAll(async () => {
    grid?.child.kill('SIGINT');
    await grid?.exited;
  }, 60_000);

  it('refuses a deploy without credits, saying how to get some', async () => {
    const refused = await run(home, ['deploy', '-f', join(root, 'examples', 'hello', 'app.json')]);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/INSUFFICIENT_CREDITS/);
    expect(refused.out).toMatch(/myc credits add|POST \/v1\/account\/credits/);
  });

  it('shows the saga’s steps live and the URL, and the app answers there', async () => {
    expect((await run(home, ['credits', 'add', '100', '--reference', 'welcome'])).code).toBe(0);
    const deployed = await run(home, ['deploy', '-f', join(root, 'examples', 'hello', 'app.json')]);
    expect(deployed.code).toBe(0);
    const steps = deployed.out.split('\n').map((line) => /^\s{2}(\S+(?: \S+)?)(?:\s{2,}|$)/.exec(line)?.[1]).filter(Boolean);
    expect(steps.slice(0, 5)).toEqual(['requested', 'credits reserved', 'queued', 'converting', 'scheduled']);
    expect(steps.filter((step) => step === 'healthy')).toHaveLength(3);
    expect(steps.at(-1)).toBe('active');
    const url = /is active: (http:\/\/hello\.default\.localhost:\d+\/)/.exec(deployed.out)![1]!;
    const ingress = JSON.parse(readFileSync(join(home, 'grid.json'), 'utf8')).ingress as string;
    const response = await fetch(`${ingress}/apps/default/hello/`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ app: 'hello', version: '1.0.0' });
    expect(url).toContain(`:${new URL(ingress).port}/`);

    const apps = await run(home, ['apps', '--json']);
    expect(apps.code).toBe(0);
    expect(apps.out).toContain('"status": "active"');
    const logs = await run(home, ['logs', 'hello', '--tail', '5']);
    expect(logs.code).toBe(0);
    expect(logs.out).toMatch(/listening on \d+/);
    const credits = await run(home, ['credits', '--json']);
    expect(credits.code).toBe(0);
  });

  it('rolls to a version that never becomes healthy and says so, exiting non-zero, back on the old version', async () => {
    const spec = JSON.parse(readFileSync(join(root, 'examples', 'hello', 'app.json'), 'utf8')) as Record<string, any>;
    spec.version = '2.0.0';
    spec.workload.command = ['node', join(root, 'examples', 'hello', 'server.mjs')];
    spec.env.push({ name: 'HELLO_HEALTHY', value: 'false' });
    spec.health.startTimeoutMs = 3000;
    const file = join(home, 'sick.json');
    writeFileSync(file, JSON.stringify(spec));
    const updated = await run(home, ['deploy', '-f', file]);
    expect(updated.code).toBe(1);
    expect(updated.out).toMatch(/rolling it to version 2\.0\.0/);
    expect(updated.out).toMatch(/the update failed: UNHEALTHY: .*did not pass its health check/);
    expect(updated.out).toMatch(/back on version 1\.0\.0/);
    const status = await run(home, ['status', 'hello', '--json']);
    expect(status.out).toContain('"version": "1.0.0"');
  });
});
