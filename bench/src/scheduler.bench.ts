import { pathToFileURL } from 'node:url';
import type { NodeTierName, NodeView } from '@mycelium/contracts';
import { placeReplicas, UPTIME_FLOOR, type Placement, type PlacementConstraints, type PlacementRequest, type ReplicaResources } from '@mycelium/deployment';
import { seededRandom as random } from '@mycelium/gateway';
import { json, report } from './report.js';

/**
 * The scheduler alone, in one process: apps of mixed sizes and constraints placed one after the other
 * over simulated nodes, each placement promised to its nodes (pending) before the next app, so the
 * grid fills up as it would between two heartbeats. The baseline is the same rules choosing each
 * replica's node by sorting every eligible node, and the reference figure Nomad's C1M (3,750 a second).
 */

/** Nomad's C1M: a million containers placed in about 270 s. Kubernetes' scheduler does ~100 pods/s at 5,000 nodes. */
export const NOMAD_C1M_PLACEMENTS_PER_SECOND = 3750;

export type Placer = (nodes: readonly NodeView[], request: PlacementRequest) => { ok: true; placements: Placement[] } | { ok: false };

export interface SchedulerBenchOptions {
  nodes?: number;
  apps?: number;
  replicasPerApp?: number;
  /** Timed passes over the whole workload after one untimed warm-up; the median pass is reported. */
  rounds?: number;
  /** The workload is drawn from this seed, so runs and placers see the same nodes and apps. */
  seed?: number;
  place?: Placer;
}

export interface SchedulerBenchResult {
  nodes: number;
  apps: number;
  replicasPerApp: number;
  /** Replicas placed in one pass (the rest belong to refused apps). */
  placed: number;
  refusedApps: number;
  placementsPerSecond: number;
  /** One scheduling decision (all of an app's replicas), over every timed pass. */
  latencyMs: { p50: number; p99: number };
  /** Every placement of one pass in order, to compare placers. */
  placements: string[];
  /** The share of the eligible nodes' free cpu promised to replicas at the end of a pass. */
  cpuPromised: number;
}

const REGIONS: [string, number][] = [
  ['eu-west', 25],
  ['eu-central', 15],
  ['us-east', 25],
  ['us-west', 15],
  ['ap-south', 10],
  ['ap-east', 10],
];
const SIZES: [{ cpuCores: number; memoryMiB: number; diskGiB: number }, number][] = [
  [{ cpuCores: 4, memoryMiB: 8192, diskGiB: 100 }, 30],
  [{ cpuCores: 8, memoryMiB: 16_384, diskGiB: 250 }, 35],
  [{ cpuCores: 16, memoryMiB: 65_536, diskGiB: 500 }, 25],
  [{ cpuCores: 32, memoryMiB: 131_072, diskGiB: 1000 }, 10],
];
const APP_SIZES: [ReplicaResources, number][] = [
  [{ cpu: 0.1, memoryMiB: 128, storageGiB: 1 }, 25],
  [{ cpu: 0.25, memoryMiB: 256, storageGiB: 2 }, 25],
  [{ cpu: 0.5, memoryMiB: 1024, storageGiB: 5 }, 25],
  [{ cpu: 1, memoryMiB: 2048, storageGiB: 10 }, 15],
  [{ cpu: 2, memoryMiB: 4096, storageGiB: 20 }, 10],
];

function pick<T>(next: () => number, weighted: readonly [T, number][]): T {
  const total = weighted.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = next() * total;
  for (const [value, weight] of weighted) {
    roll -= weight;
    if (roll < 0) return value;
  }
  return weighted.at(-1)![0];
}

/** Decoded from JSON, as the deployment service receives them in the spores registry's reply. */
function simulatedNodes(count: number, next: () => number): NodeView[] {
  const nodes = Array.from({ length: count }, (): NodeView => {
    const size = pick(next, SIZES);
    const load = 0.4 + next() * 0.6;
    const uptime = pick<[number, number]>(next, [
      [[97, 100], 85],
      [[95.5, 97], 10],
      [[80, 95], 5],
    ]);
    const tags = [['ssd', 0.6], ['gpu', 0.08], ['edge', 0.15]].filter(([, share]) => next() < (share as number)).map(([tag]) => tag as string);
    return {
      nodeId: Array.from({ length: 20 }, () => Math.floor(next() * 16).toString(16)).join(''),
      tier: pick<NodeTierName>(next, [
        ['sclerotia', 25],
        ['rhizomorph', 65],
        ['hyphae', 10],
      ]),
      status: pick(next, [
        ['alive', 90],
        ['late', 4],
        ['suspected', 3],
        ['down', 2],
        ['left', 1],
      ] as const),
      region: pick(next, REGIONS),
      tags,
      capabilities: { ...size, agentVersion: '0.1.0' },
      free: { cpuCores: Math.round(size.cpuCores * load * 1000) / 1000, memoryMiB: Math.round(size.memoryMiB * load), diskGiB: Math.round(size.diskGiB * load) },
      uptime: { last24h: Math.round((uptime[0] + next() * (uptime[1] - uptime[0])) * 100) / 100, last30d: 99 },
      trust: 0.8,
      joinedAt: '2026-11-20T10:00:00.000Z',
      publicKey: 'A'.repeat(43),
    };
  });
  return JSON.parse(JSON.stringify(nodes)) as NodeView[];
}

function simulatedApps(count: number, replicas: number, next: () => number): PlacementRequest[] {
  return Array.from({ length: count }, () => {
    const constraints = pick<() => PlacementConstraints>(next, [
      [() => ({}), 70],
      [() => ({ regions: [pick(next, REGIONS), pick(next, REGIONS)] }), 15],
      [() => ({ tiers: ['sclerotia'] }), 5],
      [() => ({ tags: ['ssd'] }), 5],
      [() => ({ minUptime: 99 }), 5],
    ])();
    return { replicas, resources: pick(next, APP_SIZES), constraints };
  });
}

/** One pass: every app in turn, its placements promised to their nodes before the next. */
function pass(place: Placer, nodes: readonly NodeView[], apps: readonly PlacementRequest[], latencies?: number[]) {
  const pending = new Map<string, ReplicaResources>();
  const placements: string[] = [];
  let placed = 0;
  let refusedApps = 0;
  const started = performance.now();
  for (const app of apps) {
    const before = performance.now();
    const result = place(nodes, { ...app, pending });
    latencies?.push(performance.now() - before);
    if (!result.ok) {
      refusedApps += 1;
      continue;
    }
    for (const { nodeId } of result.placements) {
      const promised = pending.get(nodeId);
      pending.set(nodeId, {
        cpu: (promised?.cpu ?? 0) + app.resources.cpu,
        memoryMiB: (promised?.memoryMiB ?? 0) + app.resources.memoryMiB,
        storageGiB: (promised?.storageGiB ?? 0) + app.resources.storageGiB,
      });
      placements.push(nodeId);
    }
    placed += result.placements.length;
  }
  const seconds = (performance.now() - started) / 1000;
  const eligible = nodes.filter((node) => node.status === 'alive' && node.tier !== 'hyphae' && node.uptime.last24h > UPTIME_FLOOR);
  const free = eligible.reduce((sum, node) => sum + node.free.cpuCores, 0);
  const promised = eligible.reduce((sum, node) => sum + (pending.get(node.nodeId)?.cpu ?? 0), 0);
  return { seconds, placed, refusedApps, placements, cpuPromised: promised / free };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Places `apps` × `replicasPerApp` replicas over `nodes` simulated nodes and measures how fast. */
export function runSchedulerBench(options: SchedulerBenchOptions = {}): SchedulerBenchResult {
  const { nodes: nodeCount = 1000, apps: appCount = 2500, replicasPerApp = 4, rounds = 5, seed = 1, place = placeReplicas } = options;
  const next = random(seed);
  const nodes = simulatedNodes(nodeCount, next);
  const apps = simulatedApps(appCount, replicasPerApp, next);
  const first = pass(place, nodes, apps);
  const latencies: number[] = [];
  const rates: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const timed = pass(place, nodes, apps, latencies);
    rates.push(timed.placed / timed.seconds);
  }
  return {
    nodes: nodeCount,
    apps: appCount,
    replicasPerApp,
    placed: first.placed,
    refusedApps: first.refusedApps,
    placementsPerSecond: median(rates),
    latencyMs: { p50: percentile(latencies.sort((a, b) => a - b), 50), p99: percentile(latencies, 99) },
    placements: first.placements,
    cpuPromised: first.cpuPromised,
  };
}

/** The baseline: the same rules, each replica's node chosen by sorting every eligible node. */
export const sortEveryNodePerReplica: Placer = (nodes, request) => {
  const { resources, constraints = {}, pending } = request;
  const floor = constraints.minUptime !== undefined && constraints.minUptime > UPTIME_FLOOR ? constraints.minUptime : undefined;
  const left = (node: NodeView) => {
    const promised = (pending as ReadonlyMap<string, ReplicaResources> | undefined)?.get(node.nodeId);
    return {
      cpu: Math.round(node.free.cpuCores * 1000) - Math.round((promised?.cpu ?? 0) * 1000) - Math.round(resources.cpu * 1000),
      memoryMiB: node.free.memoryMiB - (promised?.memoryMiB ?? 0) - resources.memoryMiB,
      storageGiB: node.free.diskGiB - (promised?.storageGiB ?? 0) - resources.storageGiB,
    };
  };
  const share = (value: number, capacity: number) => (capacity > 0 ? Math.min(1, Math.max(0, value / capacity)) : 0);
  const score = (node: NodeView) => {
    const after = left(node);
    const uptime = Math.min(1, Math.max(0, (node.uptime.last24h - UPTIME_FLOOR) / (100 - UPTIME_FLOOR)));
    return (
      uptime +
      (share(after.cpu, node.capabilities.cpuCores * 1000) + share(after.memoryMiB, node.capabilities.memoryMiB) + share(after.storageGiB, node.capabilities.diskGiB)) / 3
    );
  };
  const eligible = (node: NodeView) => {
    const after = left(node);
    return (
      node.status === 'alive' &&
      node.tier !== 'hyphae' &&
      (!constraints.tiers?.length || constraints.tiers.includes(node.tier)) &&
      (!constraints.regions?.length || constraints.regions.includes(node.region)) &&
      (constraints.tags ?? []).every((tag) => node.tags.includes(tag)) &&
      (floor === undefined ? node.uptime.last24h > UPTIME_FLOOR : node.uptime.last24h >= floor) &&
      after.cpu >= 0 &&
      after.memoryMiB >= 0 &&
      after.storageGiB >= 0
    );
  };
  const used = new Set((request.existing ?? []).map((replica) => replica.nodeId));
  const inRegion = new Map<string, number>();
  for (const { region } of request.existing ?? []) inRegion.set(region, (inRegion.get(region) ?? 0) + 1);
  const placements: Placement[] = [];
  for (let replica = 0; replica < request.replicas; replica += 1) {
    const ranked = nodes
      .filter((node) => !used.has(node.nodeId) && eligible(node))
      .map((node) => ({ node, score: score(node), region: inRegion.get(node.region) ?? 0 }))
      .sort((a, b) => a.region - b.region || b.score - a.score || (a.node.nodeId < b.node.nodeId ? -1 : 1));
    const best = ranked[0];
    if (best === undefined) return { ok: false };
    used.add(best.node.nodeId);
    inRegion.set(best.node.region, best.region + 1);
    placements.push({ nodeId: best.node.nodeId, region: best.node.region });
  }
  return { ok: true, placements };
};

async function main() {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const progress = (text: string) => process.stderr.write(`  … ${text}\n`);
  progress('the scheduler: 2,500 apps × 4 replicas over 1,000 simulated nodes');
  const ours = runSchedulerBench({ rounds });
  progress('the baseline: the same workload, sorting every eligible node per replica');
  const baseline = runSchedulerBench({ rounds, place: sortEveryNodePerReplica });
  const agree = ours.placements.length === baseline.placements.length && ours.placements.every((nodeId, i) => nodeId === baseline.placements[i]);
  const format = (value: number) => value.toLocaleString('en-US', { maximumFractionDigits: 3 });
  const met = report(
    'Mycelium scheduler',
    [
      `${format(ours.nodes)} simulated nodes in ${REGIONS.length} regions`,
      `${format(ours.apps)} apps × ${ours.replicasPerApp} replicas of mixed sizes and constraints`,
      `median of ${rounds} passes after a warm-up`,
    ],
    [
      {
        name: 'placements vs Nomad C1M',
        ours: ours.placementsPerSecond,
        baseline: NOMAD_C1M_PLACEMENTS_PER_SECOND,
        unit: '/s',
        baselineName: "Nomad's C1M figure, 3,750 placements a second (Kubernetes' scheduler: ~100 pods a second at 5,000 nodes)",
        target: 1,
      },
      {
        name: 'placements vs sorting per replica',
        ours: ours.placementsPerSecond,
        baseline: baseline.placementsPerSecond,
        unit: '/s',
        baselineName: "the same rules choosing each replica's node by sorting every eligible node, measured here",
        target: 1,
      },
    ],
  );
  const figures = {
    latencyMs: ours.latencyMs,
    baselineLatencyMs: baseline.latencyMs,
    placed: ours.placed,
    refusedApps: ours.refusedApps,
    cpuPromised: ours.cpuPromised,
    baselineAgrees: agree,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } else {
    process.stdout.write(
      `  one app's replicas placed: p50 ${format(ours.latencyMs.p50)} ms, p99 ${format(ours.latencyMs.p99)} ms ` +
        `(sorting per replica: p50 ${format(baseline.latencyMs.p50)} ms, p99 ${format(baseline.latencyMs.p99)} ms)\n` +
        `  ${format(ours.placed)} replicas placed, ${format(ours.refusedApps)} apps refused; at the end ${Math.round(ours.cpuPromised * 100)}% of the ` +
        `eligible nodes' free cpu is promised\n` +
        `  the baseline ${agree ? 'chose the same node for every replica' : 'CHOSE DIFFERENT NODES: the comparison is not like for like'}\n\n` +
        `${met && agree ? 'every target met' : 'some targets were missed'}\n`,
    );
  }
  if (!met || !agree) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
