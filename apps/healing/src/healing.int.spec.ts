import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { GetIncident, type IncidentView, ListIncidents, ReplicaCircuitOpened, SetWebhook } from '@mycelium/contracts';
import { waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '@mycelium/messaging';
import { incidentIdFor, rolloutIncidentId } from './domain/incident/incident.js';
import { AppReplicaFailed, AppReplicaHealthy, AppReplicaRestarted, AppRolloutFailed, type HealingFixture, newAppId, newNodeId, openHealingFixture } from './healing.fixture.js';

async function incident(grid: HealingFixture, incidentId: string): Promise<IncidentView | undefined> {
  const reply = await grid.send(GetIncident, { incidentId });
  return reply.ok ? reply.result : undefined;
}

const closed = (grid: HealingFixture, incidentId: string) =>
  waitFor(async () => {
    const view = await incident(grid, incidentId);
    return view && view.status !== 'open' ? view : undefined;
  }, { what: `incident ${incidentId} closed` });

/** Suspects the node and waits for the round healing asks for; returns the round to close. */
async function suspectedWithRound(grid: HealingFixture, nodeId: string) {
  const incidentId = incidentIdFor(nodeId, 1);
  await grid.suspect(nodeId);
  const action = await waitFor(async () => (await incident(grid, incidentId))?.actions.find((entry) => entry.action === 'confirm-down'), { what: 'the round requested' });
  return { incidentId, round: { roundId: action.detail!.roundId as string, subject: nodeId, requestedBy: incidentId } };
}

describe('healing service - a suspected node', () => {
  let grid: HealingFixture;

  beforeAll(async () => {
    grid = await openHealingFixture();
    await grid.start();
  });
  afterAll(() => grid?.dispose());

  it('asks its peers, evacuates once on "down", and resolves when the replicas run elsewhere', async () => {
    const nodeId = newNodeId();
    const [app1, app2] = [newAppId(), newAppId()];
    grid.replicasOn.set(nodeId, [
      { appId: app1, replicaId: `${app1}-a` },
      { appId: app2, replicaId: `${app2}-a` },
    ]);
    const { incidentId, round } = await suspectedWithRound(grid, nodeId);
    expect(grid.rounds.filter((request) => request.subject === nodeId)).toEqual([
      expect.objectContaining({ topic: 'node-liveness', options: ['up', 'down'], commitMs: 100, revealMs: 100, requestedBy: incidentId }),
    ]);
    await grid.closeRound(round, 'down');
    await waitFor(async () => (await incident(grid, incidentId))?.actions.some((entry) => entry.action === 'evacuate'), { what: 'the evacuation' });
    await grid.appFact('acme', app1, AppReplicaFailed.type, { replicaId: `${app1}-a`, nodeId, reason: 'evacuated' });
    await grid.appFact('acme', app1, AppReplicaHealthy.type, { replicaId: `${app1}-b`, nodeId: newNodeId(), address: '127.0.0.1:1' });
    await grid.appFact('acme', app2, AppReplicaHealthy.type, { replicaId: `${app2}-b`, nodeId: newNodeId(), address: '127.0.0.1:2' });
    const view = await closed(grid, incidentId);
    expect(view).toMatchObject({ status: 'resolved', outcome: 'evacuated: 2 replicas of 2 apps replaced on healthy nodes' });
    expect(view.actions.map((entry) => entry.action)).toEqual(['confirm-down', 'evacuate']);
    expect(view.actions[1]).toMatchObject({ reason: expect.stringMatching(/confirmed the node down/), mode: 'commanded' });
    expect(grid.evacuations.filter((request) => request.nodeId === nodeId)).toEqual([{ nodeId, reason: expect.stringMatching(/confirmed down/), incidentId }]);
    expect(view.timeline.map((entry) => entry.event)).toEqual([
      'incident-opened',
      'incident-action-taken',
      'incident-observed',
      'incident-action-taken',
      'incident-observed',
      'incident-observed',
      'incident-resolved',
    ]);
  });

  it('resolves "up" as a false alarm with nothing evicted', async () => {
    const nodeId = newNodeId();
    const { incidentId, round } = await suspectedWithRound(grid, nodeId);
    await grid.closeRound(round, 'up');
    expect(await closed(grid, incidentId)).toMatchObject({ status: 'resolved', outcome: expect.stringMatching(/^false alarm: peers reach the node/) });
    expect(grid.evacuations.filter((request) => request.nodeId === nodeId)).toEqual([]);
  });

  it('asks again after an inconclusive round, and escalates after three, without evicting', async () => {
    const nodeId = newNodeId();
    const { incidentId } = await suspectedWithRound(grid, nodeId);
    for (let asked = 1; asked <= 3; asked += 1) {
      const roundId = await waitFor(
        async () => {
          const requests = (await incident(grid, incidentId))?.actions.filter((entry) => entry.action === 'confirm-down') ?? [];
          return requests.length === asked && (requests.at(-1)!.detail!.roundId as string);
        },
        { what: `round ${asked} requested` },
      );
      await grid.closeRound({ roundId, subject: nodeId, requestedBy: incidentId }, 'inconclusive');
    }
    expect(await closed(grid, incidentId)).toMatchObject({ status: 'escalated', outcome: expect.stringMatching(/3 inconclusive rounds/) });
    expect(grid.evacuations.filter((request) => request.nodeId === nodeId)).toEqual([]);
  });

  it('resolves without action when the node recovers before the outcome, and a second suspicion is a new incident', async () => {
    const nodeId = newNodeId();
    const { incidentId, round } = await suspectedWithRound(grid, nodeId);
    await grid.recover(nodeId);
    expect(await closed(grid, incidentId)).toMatchObject({ status: 'resolved', outcome: expect.stringMatching(/recovered before/) });
    await grid.closeRound(round, 'down');
    await grid.suspect(nodeId);
    await waitFor(async () => (await incident(grid, incidentIdFor(nodeId, 2)))?.status === 'open', { what: 'the second incident' });
    expect((await incident(grid, incidentId))?.actions.map((entry) => entry.action)).toEqual(['confirm-down']);
    expect(grid.evacuations.filter((request) => request.nodeId === nodeId)).toEqual([]);
    const { result } = (await grid.send(ListIncidents, { subject: nodeId })) as { ok: true; result: { incidents: IncidentView[] } };
    expect(result.incidents.map((view) => view.incidentId).sort()).toEqual([incidentId, incidentIdFor(nodeId, 2)].sort());
  });

  it('quarantines a node that keeps flapping', async () => {
    const nodeId = newNodeId();
    for (let episode = 1; episode <= 3; episode += 1) {
      await grid.suspect(nodeId);
      await waitFor(async () => (await incident(grid, incidentIdFor(nodeId, episode)))?.actions.length === 1, { what: `round ${episode}` });
      await grid.recover(nodeId);
      await closed(grid, incidentIdFor(nodeId, episode));
    }
    await grid.suspect(nodeId);
    const view = await waitFor(async () => {
      const found = await incident(grid, incidentIdFor(nodeId, 4));
      return found?.actions.some((entry) => entry.action === 'quarantine') ? found : undefined;
    }, { what: 'the quarantine' });
    expect(view.actions[0]).toMatchObject({ action: 'quarantine', reason: expect.stringMatching(/suspected 4 times/) });
    expect(grid.trustChanges.filter((change) => change.nodeId === nodeId)).toEqual([{ nodeId, trust: 0.05, reason: expect.stringMatching(/flapping/) }]);
  });

  it('refuses an unknown incident and a malformed id', async () => {
    expect(await grid.send(GetIncident, { incidentId: incidentIdFor(newNodeId(), 1) })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', field: 'incidentId' } });
    expect(await grid.send(GetIncident, { incidentId: 'nope' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', field: 'incidentId' } });
  });
});

describe('healing service - a crash loop', () => {
  let grid: HealingFixture;

  beforeAll(async () => {
    grid = await openHealingFixture({ crashLoopCap: 2 });
    await grid.start();
  });
  afterAll(() => grid?.dispose());

  it('records restarts in place, retires the replica past the cap, once, and escalates', async () => {
    const appId = newAppId();
    const replicaId = `${appId}-a`;
    const nodeId = newNodeId();
    const incidentId = incidentIdFor(replicaId, 1);
    for (let restarts = 1; restarts <= 3; restarts += 1) {
      await grid.appFact('acme', appId, AppReplicaRestarted.type, { replicaId, nodeId, restarts, message: 'exit code 1' });
    }
    const view = await closed(grid, incidentId);
    expect(view).toMatchObject({ status: 'escalated', kind: 'replica-crash-loop', tenant: 'acme', appId, outcome: expect.stringMatching(/past the cap/) });
    expect(view.actions.map((entry) => entry.action)).toEqual(['restart-in-place', 'restart-in-place', 'restart-in-place', 'retire']);
    expect(grid.retirements).toEqual([{ appId, replicaId, reason: expect.stringMatching(/cap/), incidentId }]);
    // A restart reported after the retirement opens nothing new.
    await grid.appFact('acme', appId, AppReplicaRestarted.type, { replicaId, nodeId, restarts: 4 });
    await grid.appFact('acme', appId, AppRolloutFailed.type, { rolloutId: randomUUID(), kind: 'update', code: 'UNHEALTHY', reason: 'marker', rolledBackTo: '1.0.0' });
    await waitFor(async () => {
      const { result } = (await grid.send(ListIncidents, { subject: appId })) as { ok: true; result: { incidents: IncidentView[] } };
      return result.incidents.length === 1;
    }, { what: 'the marker incident' });
    expect(await incident(grid, incidentIdFor(replicaId, 2))).toBeUndefined();
  });
});

describe('healing service - the ingress gives up on a replica', () => {
  let grid: HealingFixture;

  beforeAll(async () => {
    grid = await openHealingFixture({ crashLoopCap: 1 });
    await grid.start();
  });
  afterAll(() => grid?.dispose());

  it('records each breaker trip the gateway reports, and retires the replica past the cap', async () => {
    const appId = newAppId();
    const replicaId = `${appId}-b`;
    const nodeId = newNodeId();
    for (let trip = 0; trip < 2; trip += 1) {
      await grid.db.store.append(`gateway/ingress/${appId}`, [
        {
          type: ReplicaCircuitOpened.type,
          data: { appId, tenant: 'acme', replicaId, nodeId, address: '127.0.0.1:9999', reason: 'connection refused', at: new Date().toISOString() },
          metadata: { tenant: 'acme' },
        },
      ]);
    }
    const view = await closed(grid, incidentIdFor(replicaId, 1));
    expect(view).toMatchObject({ status: 'escalated', kind: 'replica-unreachable', tenant: 'acme', appId, evidence: { nodeId, reason: 'connection refused' } });
    expect(view.actions.map((entry) => entry.action)).toEqual(['divert', 'divert', 'retire']);
    expect(grid.retirements).toEqual([{ appId, replicaId, reason: expect.any(String), incidentId: incidentIdFor(replicaId, 1) }]);
  });
});

describe('healing service - restarted mid-incident', () => {
  let grid: HealingFixture;

  beforeAll(async () => {
    grid = await openHealingFixture();
  });
  afterAll(() => grid?.dispose());

  it('resumes from its events and finishes without repeating an action', async () => {
    const first = await grid.start();
    const nodeId = newNodeId();
    const appId = newAppId();
    grid.replicasOn.set(nodeId, [{ appId, replicaId: `${appId}-a` }]);
    const { incidentId, round } = await suspectedWithRound(grid, nodeId);
    await grid.stop(first);
    // The outcome arrives while no healing instance runs; JetStream keeps it.
    await grid.closeRound(round, 'down');
    const second = await grid.start();
    await waitFor(async () => (await incident(grid, incidentId))?.actions.some((entry) => entry.action === 'evacuate'), { what: 'the evacuation' });
    await grid.stop(second);
    await grid.start();
    await grid.appFact('acme', appId, AppReplicaHealthy.type, { replicaId: `${appId}-b`, nodeId: newNodeId(), address: '127.0.0.1:3' });
    expect(await closed(grid, incidentId)).toMatchObject({ status: 'resolved' });
    expect(grid.rounds.filter((request) => request.subject === nodeId)).toHaveLength(1);
    expect(grid.evacuations.filter((request) => request.nodeId === nodeId)).toHaveLength(1);
    expect((await grid.incidentEvents(incidentId)).filter((event) => event.name === 'incident-action-taken').map((event) => event.data.action)).toEqual(['confirm-down', 'evacuate']);
  });
});

describe('healing service - alerts', () => {
  let grid: HealingFixture;
  let receiver: Server;
  let url: string;
  const received: { body: string; signature: string | undefined; alertId: string | undefined }[] = [];
  /** Answers 500 this many times before it accepts. */
  let failures = 2;

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: request.headers['x-mycelium-signature'] as string | undefined, alertId: request.headers['x-mycelium-alert-id'] as string | undefined });
        response.statusCode = failures-- > 0 ? 500 : 204;
        response.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    grid = await openHealingFixture();
    await grid.start();
  });
  afterAll(async () => {
    await grid?.dispose();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('POSTs the tenant’s incidents signed with its secret, retrying with backoff, and records the deliveries', async () => {
    const secret = 'a-secret-of-the-tenant';
    expect(await grid.send(SetWebhook, { tenant: 'acme', url, secret })).toMatchObject({ ok: true });
    // Reading the whole log lags a moment behind writers in flight elsewhere in the database: wait for it.
    const webhook = await waitFor(async () => (await grid.webhookEvents('acme'))[0], { what: 'the webhook in the log' });
    expect(webhook.data.sealedSecret).not.toContain(secret);
    const appId = newAppId();
    const rolloutId = randomUUID();
    await grid.appFact('acme', appId, AppRolloutFailed.type, { rolloutId, kind: 'update', code: 'UNHEALTHY', reason: 'no replica passed its health check', rolledBackTo: '1.0.0' });
    const delivered = await waitFor(async () => {
      const events = await grid.webhookEvents('acme');
      const done = events.filter((event) => event.name === 'alert-delivered');
      return done.length === 2 ? events : undefined;
    }, { what: 'both alerts delivered' });
    expect(delivered.map((event) => event.name).sort()).toEqual(['alert-delivered', 'alert-delivered', 'alert-requested', 'alert-requested', 'webhook-set'].sort());
    // The two alerts go out side by side and share the receiver's two refusals.
    const attempts = delivered.filter((event) => event.name === 'alert-delivered').map((event) => event.data.attempts as number);
    expect(attempts[0]! + attempts[1]!).toBe(4);
    expect(received).toHaveLength(4);
    for (const request of received) expect(request.signature).toBe(signBody(request.body, secret));
    const bodies = received.map((request) => JSON.parse(request.body) as { kind: string; alertId: string; incident: IncidentView });
    expect(new Set(bodies.map((body) => body.kind))).toEqual(new Set(['incident.opened', 'incident.resolved']));
    expect(bodies.every((body) => body.incident.incidentId === rolloutIncidentId(rolloutId) && body.incident.tenant === 'acme')).toBe(true);
    expect(received.every((request) => request.alertId === (JSON.parse(request.body) as { alertId: string }).alertId)).toBe(true);
  });

  it('records a failed alert after the last attempt', async () => {
    failures = 100;
    const tenant = 'gone';
    await grid.send(SetWebhook, { tenant, url, secret: 'another-secret-here' });
    await grid.appFact(tenant, newAppId(), AppRolloutFailed.type, { rolloutId: randomUUID(), kind: 'deploy', code: 'NO_SUITABLE_NODE', reason: 'no node fits' });
    const failed = await waitFor(async () => {
      const events = (await grid.webhookEvents(tenant)).filter((event) => event.name === 'alert-failed');
      return events.length === 2 ? events : undefined;
    }, { what: 'the alerts failed' });
    expect(failed[0]!.data).toMatchObject({ attempts: 4, status: 500, error: 'HTTP 500' });
  });

  it('refuses a webhook without a usable URL or with a short secret, and records nothing', async () => {
    expect(await grid.send(SetWebhook, { tenant: 'other', url: 'ftp://x', secret: 'a-secret-of-the-tenant' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', field: 'url' } });
    expect(await grid.send(SetWebhook, { tenant: 'other', url, secret: 'short' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', field: 'secret' } });
    expect(await grid.webhookEvents('other')).toEqual([]);
  });
});
