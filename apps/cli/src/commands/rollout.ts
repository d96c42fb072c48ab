import { setTimeout as sleep } from 'node:timers/promises';
import { type AppEventEntry, AppActivated, AppRolloutFailed, GetAppEvents } from '@mycelium/contracts';
import type { CommandClient } from '@mycelium/messaging';

/** The end of a rollout: active, or failed with the code and reason the saga recorded. */
export type RolloutOutcome = { ok: true; version: string } | { ok: false; code: string; reason: string };

/**
 * Follows a rollout of an app through its events, calling `onEvent` for each as it is recorded,
 * until the rollout ends. `after` is the stream version the rollout began after.
 */
export async function followRollout(
  client: CommandClient,
  target: { tenant: string; appId: string; rolloutId: string },
  after: number,
  onEvent: (event: AppEventEntry) => void,
  options: { timeoutMs: number; pollMs?: number },
): Promise<RolloutOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  let seen = after;
  while (Date.now() < deadline) {
    const reply = await client.send(GetAppEvents, { tenant: target.tenant, appId: target.appId, after: seen, limit: 200 });
    if (!reply.ok) throw new Error(reply.error.message);
    for (const event of reply.result.events) {
      seen = event.version;
      onEvent(event);
      const data = event.data as { rolloutId?: string; version?: string; code?: string; reason?: string };
      if (data.rolloutId !== target.rolloutId) continue;
      if (event.type === AppActivated.type) return { ok: true, version: data.version ?? '' };
      if (event.type === AppRolloutFailed.type) return { ok: false, code: data.code ?? 'FAILED', reason: data.reason ?? 'the rollout failed' };
    }
    if (reply.result.events.length === 0) await sleep(options.pollMs ?? 250);
  }
  throw new Error(`the rollout did not finish within ${Math.round(options.timeoutMs / 1000)} s: it goes on; watch it with \`myc status\``);
}

/** One line of progress for an event of the saga, as `myc deploy` prints it. */
export function describeStep(event: AppEventEntry): string | undefined {
  const data = event.data as Record<string, unknown>;
  const name = event.type.replace(/^mycelium\.deployment\./, '').replace(/\.v\d+$/, '');
  const short = (id: unknown) => String(id).slice(0, 8);
  switch (name) {
    case 'app-deploy-requested':
    case 'app-update-requested': {
      const spec = data.spec as { name: string; version: string; replicas: number };
      return step(name === 'app-deploy-requested' ? 'requested' : 'update requested', `${spec.name} ${spec.version}, ${spec.replicas} replica${spec.replicas === 1 ? '' : 's'}`);
    }
    case 'app-credits-reserved':
      return step('credits reserved', `${data.total} ${data.currency}`);
    case 'app-deploy-queued':
      return step('queued', '');
    case 'app-credits-converted':
      return step('converting', `${data.usd} USD → ${data.tft} TFT at ${data.tftUsdRate} USD/TFT`);
    case 'app-replicas-scheduled': {
      const placements = data.placements as { replicaId: string; nodeId: string; region: string }[];
      return step('scheduled', placements.map((placement) => `${placement.replicaId} → node ${short(placement.nodeId)} (${placement.region})`).join(', '));
    }
    case 'app-replica-starting':
      return step('starting', `${data.replicaId} on node ${short(data.nodeId)}`);
    case 'app-replica-healthy':
      return step('healthy', `${data.replicaId} at ${data.address}`);
    case 'app-replica-failed':
      return step('replica failed', String(data.reason));
    case 'app-replicas-stopped':
      return step('stopped', `${(data.replicaIds as string[]).join(', ')}: ${data.reason}`);
    case 'app-activated':
      return step('active', `version ${data.version}, ${data.captured} captured`);
    case 'app-rollout-aborted':
      return step('rolling back', `${data.code}: ${data.reason}`);
    case 'app-credits-refunded':
      return step('refunded', String(data.amount));
    case 'app-rollout-failed':
      return step('failed', `${data.code}: ${data.reason}${data.rolledBackTo ? ` (back on version ${data.rolledBackTo})` : ''}`);
    case 'app-scaled':
      return step('scaled', `${data.from} → ${data.to}`);
    case 'app-stop-requested':
      return step('stopping', String(data.reason));
    case 'app-stopped':
      return step(String(data.status), '');
    default:
      return undefined;
  }
}

const step = (label: string, detail: string) => `  ${label.padEnd(18)}${detail}`.trimEnd();
