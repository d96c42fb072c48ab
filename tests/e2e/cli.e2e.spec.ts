import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNetwork, readJoinToken, verifyJoinToken } from '@mycelium/identity';
import { startProcess } from '@mycelium/testing';
import { describe, expect, it } from 'vitest';

const myc = join(import.meta.dirname, '..', '..', 'apps', 'cli', 'dist', 'main.js');

async function run(home: string, args: string[]) {
  const command = startProcess('myc', myc, args, { MYCELIUM_HOME: home, NATS_URL: '', MYCELIUM_NETWORK_DIR: '' });
  const code = await command.exited;
  // JSON output lines are collected as parsed lines; everything else as text.
  return { code, out: command.text.join('\n'), json: command.logs[0] };
}

describe('myc network and tokens', () => {
  const home = mkdtempSync(join(tmpdir(), 'myc-cli-'));

  it('creates a network whose keys only their owner can read, once', async () => {
    const created = await run(home, ['network', 'init', '--json']);
    expect(created.code).toBe(0);
    const result = created.json as { networkId: string; dir: string; secured: boolean };
    expect(result).toMatchObject({ networkId: expect.stringMatching(/^net-[0-9a-f]{16}$/), secured: true, dir: join(home, 'network') });
    for (const file of ['network.key', 'nats-seeds.json', 'services.creds']) expect(statSync(join(result.dir, file)).mode & 0o777).toBe(0o600);
    const again = await run(home, ['network', 'init']);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/a network already exists in .*: use it, or remove that directory/);
  });

  it('issues a join token for the network, with credentials that only ask to join, for the time asked', async () => {
    const issued = await run(home, ['node', 'token', '--tier', 'rhizomorph', '--ttl', '2h', '--nats', 'nats://grid.example:4222', '--json']);
    expect(issued.code).toBe(0);
    const { token, expiresAt } = issued.json as { token: string; expiresAt: string };
    const network = loadNetwork(join(home, 'network'));
    const claims = verifyJoinToken(token, { id: network.info.networkId, publicKey: network.info.publicKey }, new Date());
    expect(claims).toMatchObject({ tier: 'rhizomorph', nats: { servers: ['nats://grid.example:4222'], creds: expect.stringContaining('NATS USER JWT') } });
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(2 * 3600_000 - 60_000);
    expect(readJoinToken(token).exp - readJoinToken(token).iat).toBe(7200);
  });

  it('says what is wrong with a bad tier or duration', async () => {
    expect((await run(home, ['node', 'token', '--tier', 'mushroom'])).out).toMatch(/--tier must be sclerotia, rhizomorph or hyphae/);
    const ttl = await run(home, ['node', 'token', '--tier', 'hyphae', '--ttl', 'forever']);
    expect(ttl.code).toBe(1);
    expect(ttl.out).toMatch(/--ttl: forever is not a duration/);
  });

  it('says where to get a network when there is none', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'myc-cli-empty-'));
    const refused = await run(empty, ['node', 'token', '--tier', 'hyphae']);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/no network key here: run `myc network init`/);
  });
});
