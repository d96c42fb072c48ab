import { readFileSync } from 'node:fs';
import { GetNode, ListNodeIds, type NodeView, QueryNodes, type SeedSnapshotV1, SetNodeTrust } from '@mycelium/contracts';
import { generateKeyMaterial, issueJoinToken, type Network, newNonce, openEnvelope, Signer } from '@mycelium/identity';
import type { CommandClient } from '@mycelium/messaging';
import { type GridLink, JoinRefused, joinMessage, newNodeIdentity } from '@mycelium/node-client';
import { type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WRITES_IN_FLIGHT } from './leadership/liveness-monitor.js';
import { capabilities, DOWN_GRACE_MS, HEARTBEAT_MS, openSporesFixture, type SporesFixture } from './spores.fixture.js';

describe('spores service', () => {
  let grid: SporesFixture;
  let db: TestStore;
  let bus: TestBus;
  let network: Network;
  let client: CommandClient;
  let link: GridLink;
  let token: string;
  let seedFile: string;

  const node: SporesFixture['node'] = (options) => grid.node(options);
  const viewOf = (nodeId: string): Promise<NodeView> => grid.viewOf(nodeId);
  const securityEvents = (stream: string) => grid.securityEvents(stream);

  beforeAll(async () => {
    grid = await openSporesFixture();
    await grid.start();
    ({ db, bus, network, client, link, token, seedFile } = grid);
  });
  afterAll(() => grid?.dispose());

  describe('joining', () => {
    it('accepts a valid join and lists the node in the registry', async () => {
      const member = node();
      const accepted = await member.join();
      expect(accepted).toMatchObject({ nodeId: member.nodeId, tier: 'rhizomorph', status: 'alive', heartbeatIntervalMs: HEARTBEAT_MS });
      const view = await viewOf(member.nodeId);
      expect(view).toMatchObject({ status: 'alive', tier: 'rhizomorph', region: 'eu-west', trust: 0.5, uptime: { last24h: 100 } });
    });

    it('refuses a forged signature, and records it as no node’s: the claimed id is unproven', async () => {
      const forger = newNodeIdentity();
      const message = joinMessage(forger, { network: network.info.networkId, token, requestedTier: 'rhizomorph', capabilities });
      const other = Signer.fromPem(generateKeyMaterial().privateKeyPem);
      const forged = { ...message, sig: other.sign(Buffer.from(message.payload, 'base64url')) };
      await expect(link.join(forged)).rejects.toMatchObject({ code: 'BAD_SIGNATURE', message: expect.stringMatching(/signature/) });
      await waitFor(async () => (await securityEvents('unattributed')).includes('BAD_SIGNATURE'), { what: 'the security event' });
      expect(await securityEvents(forger.nodeId)).toEqual([]);
    });

    it('refuses a token of another network, naming the network', async () => {
      const otherNetwork = Signer.fromPem(generateKeyMaterial().privateKeyPem);
      const foreign = issueJoinToken(otherNetwork, { tier: 'sclerotia', ttlSeconds: 600 }).token;
      const refusal = node({ token: foreign }).join();
      await expect(refusal).rejects.toBeInstanceOf(JoinRefused);
      await expect(refusal).rejects.toMatchObject({ code: 'WRONG_NETWORK', message: expect.stringContaining(network.info.networkId) });
    });

    it('refuses an expired token, saying when it expired', async () => {
      const expired = issueJoinToken(network.signer!, { tier: 'rhizomorph', ttlSeconds: 60, now: new Date(Date.now() - 120_000) }).token;
      const stranger = node({ token: expired });
      await expect(stranger.join()).rejects.toMatchObject({ code: 'EXPIRED_TOKEN', message: expect.stringMatching(/expired at/) });
      await waitFor(async () => (await securityEvents(stranger.nodeId)).includes('EXPIRED_TOKEN'));
    });

    it('refuses a message for another network even with this network’s token', async () => {
      const stranger = newNodeIdentity();
      const message = joinMessage(stranger, { network: 'net-0000000000000000', token, requestedTier: 'rhizomorph', capabilities });
      await expect(link.join(message)).rejects.toMatchObject({ code: 'WRONG_NETWORK' });
    });
  });

  describe('heartbeats', () => {
    it('refuses a replayed heartbeat and a stale one, tells the node why, and records both', async () => {
      const member = node();
      await member.join();
      const nonce = newNonce();
      member.heartbeat({ nonce });
      member.heartbeat({ nonce });
      member.heartbeat({ now: Date.now() - 60_000 });
      await waitFor(() => member.notices.length >= 2, { what: 'two notices' });
      expect(member.notices.map((notice) => notice.code).sort()).toEqual(['REPLAY', 'STALE_TIMESTAMP']);
      expect(member.notices.find((notice) => notice.code === 'STALE_TIMESTAMP')?.action).toBe('check-clock');
      await waitFor(async () => {
        const codes = await securityEvents(member.nodeId);
        return codes.includes('REPLAY') && codes.includes('STALE_TIMESTAMP');
      });
    });

    it('suspects a silent node after three intervals, declares it down after the grace, and recovers it when it returns', async () => {
      const member = node();
      await member.join();
      member.startHeartbeats(HEARTBEAT_MS);
      await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 3));
      expect((await viewOf(member.nodeId)).status).toBe('alive');
      member.kill();
      const stoppedAt = Date.now();
      await waitFor(async () => (await viewOf(member.nodeId)).status === 'suspected', { what: 'suspected', intervalMs: 20 });
      const suspectedAfter = Date.now() - stoppedAt;
      await waitFor(async () => (await viewOf(member.nodeId)).status === 'down', { what: 'down', intervalMs: 20 });
      const downAfter = Date.now() - stoppedAt;
      // Not before three intervals of silence (the last heartbeat went up to one interval before
      // the stop), and not long after; down only once the grace has passed.
      expect(suspectedAfter).toBeGreaterThanOrEqual(HEARTBEAT_MS * 2);
      expect(suspectedAfter).toBeLessThan(HEARTBEAT_MS * 3 + 1000);
      expect(downAfter - suspectedAfter).toBeGreaterThanOrEqual(DOWN_GRACE_MS - 100);

      member.startHeartbeats(HEARTBEAT_MS);
      await waitFor(async () => (await viewOf(member.nodeId)).status === 'alive', { what: 'recovered' });
      const history = await client.send(GetNode, { nodeId: member.nodeId, history: true });
      const types = history.ok ? history.result.history!.map((entry) => entry.type.split('.')[2]) : [];
      expect(types).toEqual(['node-joined', 'node-heartbeat-missed', 'node-suspected', 'node-declared-down', 'node-recovered']);
      expect((await viewOf(member.nodeId)).uptime.last24h).toBeLessThan(100);
      member.stopHeartbeats();
    });

    it('judges the other nodes while one node’s transition waits on the database', async () => {
      const stuck = node();
      const other = node();
      await stuck.join();
      await other.join();
      stuck.startHeartbeats(HEARTBEAT_MS);
      other.startHeartbeats(HEARTBEAT_MS);
      const streamOf = (member: typeof stuck) => `spores/node/${member.nodeId}`;
      // Another transaction holds the next version of the stuck node's stream: the stuck node's
      // next transition waits on the unique index until that transaction ends.
      const blocker = new pg.Client({ connectionString: db.databaseUrl });
      const watcher = new pg.Client({ connectionString: db.databaseUrl });
      await blocker.connect();
      await watcher.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query(
          `INSERT INTO ${db.schema}.events (position, stream_id, stream_version, event_id, type, data) VALUES ((txid_current() << 16) + 65535, $1, $2, gen_random_uuid(), 'test.placeholder.v1', '{}')`,
          [streamOf(stuck), (await db.store.streamVersion(streamOf(stuck))) + 1],
        );
        stuck.kill();
        await waitFor(
          async () => Number((await watcher.query(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO ${db.schema}.events%'`)).rows[0].count) > 0,
          { what: 'the stuck node’s transition to wait on the database' },
        );
        other.kill();
        // While that write still waits, the other node's silence is judged and written.
        await waitFor(async () => (await db.store.readStream(streamOf(other))).some((event) => event.type.endsWith('node-heartbeat-missed.v1')), {
          what: 'the other node’s missed heartbeat in its stream',
        });
        expect((await db.store.readStream(streamOf(stuck))).map((event) => event.type)).not.toContainEqual(expect.stringContaining('heartbeat-missed'));
      } finally {
        await blocker.query('ROLLBACK');
        await blocker.end();
        await watcher.end();
      }
      // Once the way is clear the stuck node's transition lands too.
      await waitFor(async () => (await viewOf(stuck.nodeId)).status !== 'alive', { what: 'the stuck node judged' });
    });

    it('writes at most 64 transitions at once, however many nodes fall silent while the database stalls', async () => {
      const members = Array.from({ length: MAX_WRITES_IN_FLIGHT + 6 }, () => node());
      for (const member of members) await member.join();
      for (const member of members) member.startHeartbeats(HEARTBEAT_MS);
      const blocker = new pg.Client({ connectionString: db.databaseUrl });
      await blocker.connect();
      const inFlight = async () => {
        const text = await (await fetch(`http://127.0.0.1:${grid.spores.port}/metrics`)).text();
        return Number(/^mycelium_spores_liveness_writes_in_flight\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
      };
      try {
        // Each node's next version is held by another transaction: every write waits until it ends.
        await blocker.query('BEGIN');
        for (const member of members) {
          const stream = `spores/node/${member.nodeId}`;
          // Spores may still be writing to this stream (its first heartbeats): take the version after its write.
          for (;;) {
            await blocker.query('SAVEPOINT hold');
            try {
              await blocker.query(
                `INSERT INTO ${db.schema}.events (position, stream_id, stream_version, event_id, type, data) VALUES ((txid_current() << 16) + $3, $1, $2, gen_random_uuid(), 'test.placeholder.v1', '{}')`,
                [stream, (await db.store.streamVersion(stream)) + 1, members.indexOf(member)],
              );
              break;
            } catch (error) {
              if ((error as { code?: string }).code !== '23505') throw error;
              await blocker.query('ROLLBACK TO SAVEPOINT hold');
            }
          }
        }
        for (const member of members) member.kill();
        await waitFor(async () => (await inFlight()) === MAX_WRITES_IN_FLIGHT, { what: `${MAX_WRITES_IN_FLIGHT} writes in flight` });
        // Sweeps go on every 50 ms: none sends more while those wait.
        for (let sample = 0; sample < 10; sample += 1) {
          expect(await inFlight()).toBe(MAX_WRITES_IN_FLIGHT);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } finally {
        await blocker.query('ROLLBACK');
        await blocker.end();
      }
      // The rest are judged once the first are written.
      await waitFor(async () => (await Promise.all(members.map((member) => viewOf(member.nodeId)))).every((view) => view.status !== 'alive'), { what: 'every silent node judged', timeoutMs: 30_000 });
    });

    it('records usage from heartbeats as the free resources the registry answers with', async () => {
      const member = node();
      await member.join();
      member.heartbeat({ usage: { cpuFree: 1.5, memoryFreeMiB: 2048, diskFreeGiB: 40 } });
      await waitFor(async () => (await viewOf(member.nodeId)).free.memoryMiB === 2048);
      const reply = await client.send(QueryNodes, { minFreeMemoryMiB: 4096 });
      expect(reply.ok && reply.result.nodes.map((view) => view.nodeId)).not.toContain(member.nodeId);
    });

    it('lets a node leave, and tells it to rejoin when it heartbeats after leaving', async () => {
      const member = node();
      await member.join();
      await member.leave('maintenance');
      expect((await viewOf(member.nodeId)).status).toBe('left');
      member.heartbeat();
      await waitFor(() => member.notices.some((notice) => notice.action === 'rejoin'), { what: 'the rejoin notice' });
      await member.join();
      expect((await viewOf(member.nodeId)).status).toBe('alive');
    });
  });

  describe('tiers', () => {
    it('promotes a trusted node with full uptime to sclerotia, and demotes it when trust falls', async () => {
      const member = node();
      await member.join();
      member.startHeartbeats(HEARTBEAT_MS);
      expect((await client.send(SetNodeTrust, { nodeId: member.nodeId, trust: 0.9, reason: 'vouched for' })).ok).toBe(true);
      await waitFor(async () => (await viewOf(member.nodeId)).tier === 'sclerotia', { what: 'the promotion' });
      await client.send(SetNodeTrust, { nodeId: member.nodeId, trust: 0.3, reason: 'lost a consensus round' });
      await waitFor(async () => (await viewOf(member.nodeId)).tier === 'rhizomorph', { what: 'the demotion' });
      const history = await client.send(GetNode, { nodeId: member.nodeId, history: true });
      const changes = history.ok ? history.result.history!.filter((entry) => /node-(promoted|demoted)/.test(entry.type)) : [];
      expect(changes.map((entry) => entry.data.reason)).toEqual([expect.stringMatching(/meet the sclerotia rule/), expect.stringMatching(/trust 0.3 fell below 0.5/)]);
      member.stopHeartbeats();
    });

    it('keeps a node whose token allows only hyphae a hypha', async () => {
      const limited = issueJoinToken(network.signer!, { tier: 'hyphae', ttlSeconds: 600 }).token;
      const member = node({ token: limited });
      expect((await member.join()).tier).toBe('hyphae');
    });
  });

  describe('discovery', () => {
    it('answers queries by status, tier and region, most available first', async () => {
      const west = node({ capabilities: { ...capabilities, region: 'ap-south', cpuCores: 2 } });
      const east = node({ capabilities: { ...capabilities, region: 'ap-south', cpuCores: 16 } });
      await west.join();
      await east.join();
      const reply = await client.send(QueryNodes, { region: 'ap-south', status: 'alive', tier: 'rhizomorph' });
      expect(reply.ok && reply.result.nodes.map((view) => view.nodeId)).toEqual([east.nodeId, west.nodeId]);
      expect(await client.send(QueryNodes, { minUptime: 140 })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', field: 'minUptime' } });
    });

    it('lists every node id, or those with a status, for choosing among all of them', async () => {
      const staying = node();
      const leaving = node();
      await staying.join();
      await leaving.join();
      await leaving.leave();
      const ids = async (status?: 'alive' | 'left') => {
        const reply = await client.send(ListNodeIds, status ? { status } : {});
        if (!reply.ok) throw new Error(reply.error.message);
        return reply.result.nodeIds;
      };
      expect(await ids()).toEqual(expect.arrayContaining([staying.nodeId, leaving.nodeId]));
      expect(await ids('alive')).toContain(staying.nodeId);
      expect(await ids('alive')).not.toContain(leaving.nodeId);
      expect(await ids('left')).toContain(leaving.nodeId);
      expect(await client.send(ListNodeIds, { status: 'gone' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', field: 'status' } });
      // With their keys, for checking what the listed nodes sign; without, ids only.
      const withKeys = await client.send(ListNodeIds, { status: 'alive', withKeys: true });
      if (!withKeys.ok) throw new Error(withKeys.error.message);
      expect(withKeys.result.publicKeys?.[staying.nodeId]).toBe(staying.identity.publicKey);
      expect(Object.keys(withKeys.result.publicKeys!).sort()).toEqual([...withKeys.result.nodeIds].sort());
      const idsOnly = await client.send(ListNodeIds, { status: 'alive' });
      expect(idsOnly.ok && Object.keys(idsOnly.result)).toEqual(['nodeIds']);
      expect(await client.send(ListNodeIds, { withKeys: 'yes' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', field: 'withKeys' } });
    });

    it('exports the directory as a snapshot signed with the network key', async () => {
      const member = node();
      await member.join();
      await waitFor(
        () => {
          try {
            const snapshot = openEnvelope<SeedSnapshotV1>(JSON.parse(readFileSync(seedFile, 'utf8')), network.info.publicKey);
            return snapshot.nodes.some((peer) => peer.nodeId === member.nodeId) && snapshot;
          } catch {
            return false;
          }
        },
        { what: 'a snapshot with the new node' },
      ).then((snapshot) => {
        expect(snapshot).toMatchObject({ kind: 'seed-snapshot', network: network.info.networkId, natsServers: [bus.natsUrl] });
      });
    });

    it('rebuilds the same registry from the event store after a restart', async () => {
      const stable = (views: NodeView[]) =>
        views.map(({ lastSeenAt: _seen, free: _free, uptime: _uptime, ...rest }) => rest).sort((a, b) => a.nodeId.localeCompare(b.nodeId));
      // Let the grid settle: every node silent, so none changes while the service restarts.
      for (const created of grid.nodes) created.kill();
      const settled = async () => {
        const reply = await client.send(QueryNodes, { limit: 10_000 });
        return reply.ok && reply.result.nodes.every((view) => view.status === 'down' || view.status === 'left') && JSON.stringify(stable(reply.result.nodes));
      };
      let previous: string | false = false;
      await waitFor(
        async () => {
          const now = await settled();
          const unchanged = now !== false && now === previous;
          previous = now;
          return unchanged;
        },
        { intervalMs: 700, timeoutMs: 30_000, what: 'a settled registry' },
      );
      const before = await client.send(QueryNodes, { limit: 10_000 });
      await grid.spores.stop();
      await grid.start();
      const after = await client.send(QueryNodes, { limit: 10_000 });
      expect(before.ok && after.ok).toBe(true);
      if (before.ok && after.ok) {
        expect(after.result.total).toBe(before.result.total);
        expect(stable(after.result.nodes)).toEqual(stable(before.result.nodes));
      }
    });
  });

  it('returns a node’s newest events, at most what fits in one reply, and says how many it has', async () => {
    const member = node();
    await member.join();
    // Far more history than fits in a NATS message (1 MB): 1500 events of some 700 bytes.
    const stream = `spores/node/${member.nodeId}`;
    const trustChange = (i: number) => ({
      type: 'mycelium.spores.node-trust-changed.v1',
      data: { nodeId: member.nodeId, from: 0.5, to: 0.5, reason: `check ${i} `.padEnd(500, '.'), at: new Date().toISOString() },
    });
    let newest = 0n;
    for (let batch = 0; batch < 3; batch += 1) {
      newest = (await db.store.append(stream, Array.from({ length: 500 }, (_, i) => trustChange(batch * 500 + i)))).lastPosition;
    }

    const byDefault = await client.send(GetNode, { nodeId: member.nodeId, history: true });
    if (!byDefault.ok) throw new Error(byDefault.error.message);
    expect(byDefault.result.history).toHaveLength(100);
    expect(byDefault.result.historyTotal).toBeGreaterThanOrEqual(1501);
    expect(byDefault.result.historyTruncated).toBe(true);
    const positions = byDefault.result.history!.map((entry) => BigInt(entry.position));
    expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(positions.at(-1)! >= newest).toBe(true);

    const most = await client.send(GetNode, { nodeId: member.nodeId, history: true, historyLimit: 1000 });
    if (!most.ok) throw new Error(most.error.message);
    expect(most.result.history!.length).toBeGreaterThan(100);
    expect(most.result.history!.length).toBeLessThan(1000);
    expect(Buffer.byteLength(JSON.stringify(most.result))).toBeLessThan(1024 * 1024);
    // The silent node may go late, suspected and down between the two reads: its history only grows.
    expect(most.result.historyTruncated).toBe(true);
    expect(most.result.historyTotal).toBeGreaterThanOrEqual(byDefault.result.historyTotal!);
    expect(BigInt(most.result.history!.at(-1)!.position) >= newest).toBe(true);

    expect(await client.send(GetNode, { nodeId: member.nodeId, history: true, historyLimit: 1001 })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED', field: 'historyLimit' },
    });
  });

  it('returns the whole history of a node with few events, saying nothing was left out', async () => {
    const member = node();
    await member.join();
    const reply = await client.send(GetNode, { nodeId: member.nodeId, history: true });
    if (!reply.ok) throw new Error(reply.error.message);
    expect(reply.result.history![0]).toMatchObject({ type: 'mycelium.spores.node-joined.v1' });
    expect(reply.result).toMatchObject({ historyTotal: reply.result.history!.length, historyTruncated: false });
  });
});
