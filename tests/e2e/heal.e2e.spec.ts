import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppView, DeployApp, GetApp, IssueApiKey, ListIncidents, type IncidentView, TopUpCredits, type WorkloadReport, WorkloadSubjects } from '@mycelium/contracts';
import { initNetwork, issueJoinToken, type Network } from '@mycelium/identity';
import { CommandClient } from '@mycelium/messaging';
import { freePort, openPostgresTestStore, openTestBus, startProcess, type TestBus, type TestProcess, type TestStore, waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const mainOf = (service: string) => join(root, 'apps', service, 'dist', 'main.js');
const hello = join(root, 'examples', 'hello', 'server.mjs');

/** A TCP relay to NATS that the test can cut: a node behind it loses the control plane, not its peers. */
async function cuttableLink(target: URL): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = tcpConnect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `nats://127.0.0.1:${(server.address() as { port: number }).port}`,
    cut: () => {
      open = false;
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('self-healing (real services, agents and processes)', () => {
  let db: TestStore;
  let bus: TestBus;
  let network: Network;
  let home: string;
  let client: CommandClient;
  let ingressPort: number;
  let link: Awaited<ReturnType<typeof cuttableLink>>;
  const services: TestProcess[] = [];
  const agents = new Map<string, TestProcess>();
  const reports = new Map<string, WorkloadReport>();

  const env = () => ({
    NATS_URL: bus.natsUrl,
    DATABASE_URL: db.databaseUrl,
    MYCELIUM_DB_SCHEMA: db.schema,
    MYCELIUM_NAMESPACE: bus.topology.namespace,
    MYCELIUM_HOME: home,
    MYCELIUM_NETWORK_DIR: network.dir,
    MYCELIUM_HEARTBEAT_MS: '300',
    MYCELIUM_DOWN_GRACE_MS: '1500',
    MYCELIUM_PRICE_SOURCES: 'fixed:0.01',
    MYCELIUM_INGRESS_PORT: String(ingressPort),
    MYCELIUM_SAGA_RESEND_MS: '1000',
    // Wide enough for a busy machine: a round whose votes come late is inconclusive, and evicts nothing.
    MYCELIUM_HEALING_ROUND_COMMIT_MS: '1500',
    MYCELIUM_HEALING_ROUND_REVEAL_MS: '1000',
    MYCELIUM_HEALING_CRASH_LOOP_CAP: '2',
    PORT: '0',
  });

  /** An agent process in `region`, reaching NATS at `natsUrl`; resolves with its node id once it joined. */
  async function startAgent(name: string, region: string, natsUrl = bus.natsUrl): Promise<string> {
    const token = issueJoinToken(network.signer!, { tier: 'sclerotia', ttlSeconds: 3600, nats: { servers: [natsUrl], namespace: bus.topology.namespace } }).token;
    const agent = startProcess(name, mainOf('agent'), ['--data-dir', join(home, name), '--region', region, '--workload-report-ms', '300'], {
      NATS_URL: '',
      MYCELIUM_JOIN_TOKEN: token,
    });
    const joined = await agent.waitForLog((line) => line.msg === 'joined the grid', 30_000);
    agents.set(joined.nodeId as string, agent);
    return joined.nodeId as string;
  }

  const appOf = async (appId: string) => {
    const reply = await client.send(GetApp, { appId });
    if (!reply.ok) throw new Error(reply.error.message);
    return reply.result as AppView;
  };
  const incidentsAbout = async (subject: string): Promise<IncidentView[]> => {
    const reply = await client.send(ListIncidents, { subject });
    return reply.ok ? reply.result.incidents : [];
  };
  const get = (path: string) =>
    new Promise<number>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: ingressPort, path, timeout: 2000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });

  /** `myc` against this grid: its exit code and output. */
  const myc = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(root, 'apps', 'cli', 'dist', 'main.js'), ...args],
        { env: { ...process.env, ...env() }, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    home = mkdtempSync(join(tmpdir(), 'heal-e2e-'));
    network = await initNetwork(join(home, 'network'), { secured: false });
    ingressPort = await freePort();
    link = await cuttableLink(new URL(bus.natsUrl));
    for (const service of ['spores', 'consensus', 'billing', 'deployment', 'healing', 'gateway']) {
      const process = startProcess(service, mainOf(service), [], env());
      services.push(process);
      await process.waitForLog((line) => line.msg === `${service} is up`, 60_000);
    }
    client = new CommandClient(bus.nc, bus.topology);
    bus.nc.subscribe(bus.topology.subject(WorkloadSubjects.allReports), {
      callback: (_error, msg) => {
        const report = msg.json<WorkloadReport>();
        reports.set(report.nodeId, report);
      },
    });
    const issued = await client.send(IssueApiKey, { name: 'heal e2e', scopes: ['admin'] });
    if (!issued.ok) throw new Error(issued.error.message);
    const topUp = await client.send(TopUpCredits, { tenant: 'acme', amount: '100', reference: 'heal-e2e' });
    if (!topUp.ok) throw new Error(topUp.error.message);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((agent) => agent.kill('SIGTERM')));
    await Promise.all(services.map((service) => service.kill('SIGTERM')));
    await link?.close();
    await bus?.dispose();
    await db?.dispose();
  }, 60_000);

  it('SIGKILL a node running 2 of an app’s 3 replicas: an incident opens, a round confirms it down, the replicas start elsewhere, traffic keeps succeeding, the incident resolves; the log then shows the app as it was midway, the incident across services, and replays as recorded', async () => {
    const a = await startAgent('node-a', 'zone-a');
    const b = await startAgent('node-b', 'zone-b');
    await startAgent('node-c', 'zone-c');
    // Two zones for three replicas: one node runs two of them.
    const deployed = await client.send(
      DeployApp,
      {
        tenant: 'acme',
        spec: {
          name: 'web',
          version: '1.0.0',
          replicas: 3,
          workload: { command: [process.execPath, hello] },
          resources: { cpu: 0.01, memoryMiB: 32, storageGiB: 0 },
          health: { path: '/healthz', intervalMs: 200, timeoutMs: 200, failureThreshold: 2, startTimeoutMs: 10_000 },
          placement: { regions: ['zone-a', 'zone-b'] },
          stopGraceMs: 500,
        },
      },
    );
    if (!deployed.ok) throw new Error(deployed.error.message);
    const appId = deployed.result.appId;
    const active = await waitFor(async () => ((await appOf(appId)).status === 'active' ? appOf(appId) : undefined), { timeoutMs: 60_000, what: 'the app active' });
    // A moment in the middle of the scenario, and what the live service showed then.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const middle = new Date().toISOString();
    const shownThen = await appOf(appId);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const byNode = (node: string) => active.replicas.filter((replica) => replica.nodeId === node);
    const victim = byNode(a).length === 2 ? a : b;
    expect(byNode(victim)).toHaveLength(2);

    // Traffic through the ingress all along; a client may retry, as clients do.
    let stop = false;
    let failed = 0;
    let served = 0;
    const traffic = (async () => {
      while (!stop) {
        let status = 0;
        for (let attempt = 0; attempt < 5 && status !== 200; attempt += 1) {
          status = await get('/apps/acme/web/');
          if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        if (status === 200) served += 1;
        else failed += 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    // The node dies with its replicas.
    const pids = (reports.get(victim)?.replicas ?? []).map((replica) => replica.pid).filter((pid): pid is number => typeof pid === 'number');
    expect(pids).toHaveLength(2);
    await agents.get(victim)!.kill('SIGKILL');
    for (const pid of pids) process.kill(pid, 'SIGKILL');

    const incident = await waitFor(
      async () => (await incidentsAbout(victim)).find((found) => found.status !== 'open'),
      { timeoutMs: 60_000, what: 'the incident about the killed node to end' },
    );
    expect(incident, JSON.stringify(incident, null, 2)).toMatchObject({ status: 'resolved' });
    stop = true;
    await traffic;
    const actions = incident.actions.map((action) => action.action);
    expect(actions).toEqual(expect.arrayContaining(['confirm-down', 'evacuate']));
    expect(actions.indexOf('confirm-down')).toBeLessThan(actions.indexOf('evacuate'));
    const healed = await appOf(appId);
    expect(healed.healthyReplicas).toBe(3);
    expect(healed.replicas.every((replica) => replica.nodeId !== victim)).toBe(true);
    expect(failed).toBe(0);
    expect(served).toBeGreaterThan(0);

    // The operators' view of what happened, from the log.
    const then = await myc(['state', 'deployment', appId, '--at', middle, '--json']);
    expect(then.code, then.stderr).toBe(0);
    const rebuilt = (JSON.parse(then.stdout) as { aggregates: { state: AppView }[] }).aggregates[0]!.state;
    expect(rebuilt).toEqual(shownThen);
    expect(rebuilt.replicas.some((replica) => replica.nodeId === victim)).toBe(true);

    const timeline = await myc(['timeline', incident.incidentId, '--json']);
    expect(timeline.code, timeline.stderr).toBe(0);
    const entries = (JSON.parse(timeline.stdout) as { entries: { position: string; service: string; type: string }[] }).entries;
    const positions = entries.map((entry) => BigInt(entry.position));
    expect(positions).toEqual([...positions].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    expect(new Set(entries.map((entry) => entry.service))).toEqual(new Set(['healing', 'consensus']));
    const types = entries.map((entry) => entry.type);
    expect(types[0]).toBe('mycelium.healing.incident-opened.v1');
    expect(types.indexOf('mycelium.consensus.round-opened.v1')).toBeLessThan(types.indexOf('mycelium.consensus.round-closed.v1'));
    expect(types.at(-1)).toBe('mycelium.healing.incident-resolved.v1');

    // Shared as a file and replayed elsewhere, with no grid.
    const exported = await myc(['export', '--correlation', incident.incidentId]);
    expect(exported.code, exported.stderr).toBe(0);
    const file = join(home, 'incident.jsonl');
    writeFileSync(file, exported.stdout);
    const offline = await myc(['replay', '--file', file, '--json']);
    expect(offline.code, offline.stderr).toBe(0);
    const fromFile = JSON.parse(offline.stdout) as { events: number; gaps: { stream: string }[]; projections: { name: string; rows: Record<string, { version: number }> }[] };
    expect(fromFile.events).toBe(entries.length);
    const incidentStream = `healing/incident/${incident.incidentId}`;
    expect(fromFile.projections.find((projection) => projection.name === 'aggregates')!.rows[incidentStream]!.version).toBe(entries.filter((entry) => entry.service === 'healing').length);
    // The rounds' votes do not name the incident: the file has their first and last events only, and says so.
    expect(fromFile.gaps.every((gap) => gap.stream.startsWith('consensus/round/'))).toBe(true);

    const replayed = await myc(['replay', '--from', '0', '--json']);
    expect(replayed.code, replayed.stdout + replayed.stderr).toBe(0);
    const projections = (JSON.parse(replayed.stdout) as { projections: { name: string; events: number; differing: number }[] }).projections;
    expect(projections.map((projection) => projection.name).sort()).toEqual(['aggregates', 'event-types']);
    for (const projection of projections) {
      expect(projection.events).toBeGreaterThan(50);
      expect(projection.differing).toBe(0);
    }
  });

  it('a node that lost the control plane but answers its peers: the round says "up", nothing is evicted', async () => {
    const cutOff = await startAgent('node-d', 'zone-d', link.url);
    const deployed = await client.send(DeployApp, {
      tenant: 'acme',
      spec: {
        name: 'island',
        version: '1.0.0',
        replicas: 1,
        workload: { command: [process.execPath, hello] },
        resources: { cpu: 0.01, memoryMiB: 32, storageGiB: 0 },
        health: { path: '/healthz', intervalMs: 200, timeoutMs: 200, failureThreshold: 2, startTimeoutMs: 10_000 },
        placement: { regions: ['zone-d'] },
      },
    });
    if (!deployed.ok) throw new Error(deployed.error.message);
    const appId = deployed.result.appId;
    await waitFor(async () => (await appOf(appId)).status === 'active', { timeoutMs: 60_000, what: 'the app active on the node' });

    link.cut();
    const incident = await waitFor(
      async () => (await incidentsAbout(cutOff)).find((found) => found.status !== 'open'),
      { timeoutMs: 60_000, what: 'the incident about the cut-off node to end' },
    );
    expect(incident.status).toBe('resolved');
    expect(incident.actions.map((action) => action.action)).not.toContain('evacuate');
    const app = await appOf(appId);
    expect(app.replicas.map((replica) => replica.nodeId)).toEqual([cutOff]);
    expect(app.replicas[0]!.status).toBe('healthy');
  });

  it('a killed replica is restarted in place; one that keeps dying is retired after the cap and the incident escalates', async () => {
    const deployed = await client.send(DeployApp, {
      tenant: 'acme',
      spec: {
        name: 'phoenix',
        version: '1.0.0',
        replicas: 1,
        workload: { command: [process.execPath, hello] },
        resources: { cpu: 0.01, memoryMiB: 32, storageGiB: 0 },
        health: { path: '/healthz', intervalMs: 200, timeoutMs: 200, failureThreshold: 2, startTimeoutMs: 10_000 },
        placement: { regions: ['zone-c'] },
      },
    });
    if (!deployed.ok) throw new Error(deployed.error.message);
    const appId = deployed.result.appId;
    const first = await waitFor(async () => {
      const app = await appOf(appId);
      return app.status === 'active' && app.replicas[0];
    }, { timeoutMs: 60_000, what: 'the app active' });
    const reported = () => [...reports.values()].flatMap((report) => report.replicas).find((replica) => replica.replicaId === first.replicaId);
    const killAndWaitBack = async (restarts: number) => {
      const pid = await waitFor(() => reported()?.state === 'healthy' && reported()?.restarts === restarts - 1 && reported()?.pid, { timeoutMs: 30_000, what: `the replica healthy after ${restarts - 1} restarts` });
      process.kill(pid, 'SIGKILL');
      await waitFor(() => (reported()?.restarts ?? 0) >= restarts, { timeoutMs: 30_000, what: `restart ${restarts} in place` });
    };

    await killAndWaitBack(1);
    const inPlace = await waitFor(async () => (await incidentsAbout(first.replicaId))[0], { timeoutMs: 20_000, what: 'an incident about the replica' });
    expect(inPlace).toMatchObject({ kind: 'replica-crash-loop', status: 'open' });
    expect(inPlace.actions.map((action) => action.action)).toEqual(['restart-in-place']);

    await killAndWaitBack(2);
    await killAndWaitBack(3);
    const escalated = await waitFor(async () => (await incidentsAbout(first.replicaId)).find((incident) => incident.status === 'escalated'), {
      timeoutMs: 30_000,
      what: 'the incident to escalate',
    });
    expect(escalated.actions.map((action) => action.action)).toEqual(['restart-in-place', 'restart-in-place', 'restart-in-place', 'retire']);
    const replaced = await waitFor(async () => {
      const app = await appOf(appId);
      return app.healthyReplicas === 1 && app.replicas[0]!.replicaId !== first.replicaId && app;
    }, { timeoutMs: 30_000, what: 'a replacement replica' });
    expect(replaced.status).toBe('active');
  });
});
