import { ErrorCodes, NODE_TIERS, type NodeTierName, type NodeView } from '@mycelium/contracts';

/**
 * The scheduler: which nodes an app's new replicas go to. Pure: the nodes (as the spores registry
 * answers them) and what is already promised come in as arguments, placements or a refusal come out.
 *
 * A node is eligible when it is alive, not a hypha, inside the request's regions, tiers and tags,
 * up more than 95% of the last 24 h (or at least `minUptime` when that is higher), and has the
 * free cpu, memory and disk the replica needs after what is pending on it. Replicas go to nodes
 * hosting none of the app's replicas first, then to the region holding the fewest of them, then to
 * the best score (uptime and free resources after placing), then to the lowest node id.
 *
 * When there are fewer eligible nodes than replicas the request is refused as a whole rather than
 * stacking two replicas on one node, since one node failing would then take several down with it;
 * `allowColocation` lets a caller that prefers running to spreading stack them on nodes with room.
 */

/** A node must be up more than this percentage of the last 24 hours to run anything (the seeds' floor). */
export const UPTIME_FLOOR = 95;

/** What one replica needs. */
export interface ReplicaResources {
  /** Cores; fractions allowed. */
  cpu: number;
  memoryMiB: number;
  storageGiB: number;
}

/** Where the app's owner allows its replicas to run; every one given must hold. */
export interface PlacementConstraints {
  regions?: readonly string[];
  tiers?: readonly NodeTierName[];
  /** Percent of the last 24 h; only a value above the floor (95) asks for more. */
  minUptime?: number;
  /** Every one of these must be among the node's tags. */
  tags?: readonly string[];
}

export interface Placement {
  nodeId: string;
  region: string;
}

/** Resources promised to replicas that the nodes' reported free resources do not show yet, by node id. */
export type PendingResources = ReadonlyMap<string, ReplicaResources> | Readonly<Record<string, ReplicaResources>>;

export interface PlacementRequest {
  /** How many replicas to place now. */
  replicas: number;
  resources: ReplicaResources;
  constraints?: PlacementConstraints;
  /** The app's replicas already placed: new ones keep away from their nodes and regions. */
  existing?: readonly Placement[];
  pending?: PendingResources;
  /** Stack replicas on a node with room for them when there are too few nodes to spread over. */
  allowColocation?: boolean;
}

/** Why a node was left out, in the order the rules are checked: each node counts under the first it fails. */
export const EXCLUSION_REASONS = ['status', 'tier', 'region', 'tags', 'uptime', 'cpu', 'memory', 'disk', 'colocation'] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

export type NoSuitableNodeDetails = {
  replicas: number;
  resources: ReplicaResources;
  /** Nodes considered. */
  nodes: number;
  excluded: Record<ExclusionReason, number>;
  /** Nodes that passed every rule. */
  fitting: number;
  /** How many of the replicas those nodes could take. */
  placeable: number;
};

export interface NoSuitableNode {
  code: 'NO_SUITABLE_NODE';
  message: string;
  details: NoSuitableNodeDetails;
}

export interface InvalidPlacementRequest {
  code: typeof ErrorCodes.ValidationFailed;
  message: string;
  field: string;
}

export type PlacementResult = { ok: true; placements: Placement[] } | { ok: false; error: NoSuitableNode | InvalidPlacementRequest };

// Cpu is compared in thousandths of a core (the contracts allow three decimals), so that pending
// amounts summed from fractions (0.1 + 0.2) still fit exactly into what a node reports free.
const MILLI = 1000;
const millicores = (cores: number) => Math.round(cores * MILLI);

interface Rules {
  regions?: ReadonlySet<string>;
  /** Tiers that may run the replicas; hyphae never do. */
  tiers: ReadonlySet<NodeTierName>;
  tiersAsked: boolean;
  tags: readonly string[];
  /** A node passes with uptime above this, or at least this when `inclusive`. */
  uptime: number;
  uptimeInclusive: boolean;
  cpu: number;
  memoryMiB: number;
  storageGiB: number;
}

interface Candidate {
  node: NodeView;
  /** What the node has left after pending and after the replicas placed on it so far. */
  cpuLeft: number;
  memoryLeft: number;
  diskLeft: number;
  /** Replicas of this app on the node. */
  hosted: number;
  /** Index of the node's region in the per-call region counts. */
  region: number;
  score: number;
}

const RUNNABLE_TIERS: readonly NodeTierName[] = NODE_TIERS.filter((tier) => tier !== 'hyphae');

/** Places `request.replicas` replicas on `nodes`, or says which rules left too few nodes. */
export function placeReplicas(nodes: readonly NodeView[], request: PlacementRequest): PlacementResult {
  const invalid = validate(request);
  if (invalid) return { ok: false, error: invalid };
  const { replicas } = request;
  if (replicas === 0) return { ok: true, placements: [] };
  const rules = compile(request);
  const colocate = request.allowColocation === true;

  const hosted = new Map<string, number>();
  const regionIndex = new Map<string, number>();
  const inRegion: number[] = [];
  const regionOf = (region: string) => {
    let index = regionIndex.get(region);
    if (index === undefined) {
      index = inRegion.push(0) - 1;
      regionIndex.set(region, index);
    }
    return index;
  };
  for (const replica of request.existing ?? []) {
    hosted.set(replica.nodeId, (hosted.get(replica.nodeId) ?? 0) + 1);
    inRegion[regionOf(replica.region)]! += 1;
  }
  const pendingOn = pendingLookup(request.pending);

  const excluded = Object.fromEntries(EXCLUSION_REASONS.map((reason) => [reason, 0])) as Record<ExclusionReason, number>;
  const candidates: Candidate[] = [];
  for (const node of nodes) {
    const pending = pendingOn(node.nodeId);
    const cpuLeft = millicores(node.free.cpuCores) - (pending ? millicores(pending.cpu) : 0);
    const memoryLeft = node.free.memoryMiB - (pending?.memoryMiB ?? 0);
    const diskLeft = node.free.diskGiB - (pending?.storageGiB ?? 0);
    const reason = firstFailedRule(node, rules, cpuLeft, memoryLeft, diskLeft);
    if (reason !== undefined) {
      excluded[reason] += 1;
      continue;
    }
    const onNode = hosted.size === 0 ? 0 : (hosted.get(node.nodeId) ?? 0);
    if (onNode > 0 && !colocate) {
      excluded.colocation += 1;
      continue;
    }
    candidates.push({ node, cpuLeft, memoryLeft, diskLeft, hosted: onNode, region: regionOf(node.region), score: score(node, rules, cpuLeft, memoryLeft, diskLeft) });
  }

  if (!colocate && candidates.length < replicas) return refuse(nodes.length, request, rules, excluded, candidates.length, candidates.length);

  // A scan per replica rather than a sort: only the best node is needed, and at four replicas over a
  // thousand nodes that is a few thousand comparisons (bench/src/scheduler.bench.ts measures both).
  const placements: Placement[] = [];
  for (let placed = 0; placed < replicas; placed += 1) {
    let best: Candidate | undefined;
    let bestInRegion = 0;
    for (const candidate of candidates) {
      if (candidate.cpuLeft < rules.cpu || candidate.memoryLeft < rules.memoryMiB || candidate.diskLeft < rules.storageGiB) continue;
      const region = inRegion[candidate.region]!;
      if (best === undefined || better(candidate, region, best, bestInRegion)) {
        best = candidate;
        bestInRegion = region;
      }
    }
    if (best === undefined) return refuse(nodes.length, request, rules, excluded, candidates.length, placed);
    placements.push({ nodeId: best.node.nodeId, region: best.node.region });
    best.hosted += 1;
    best.cpuLeft -= rules.cpu;
    best.memoryLeft -= rules.memoryMiB;
    best.diskLeft -= rules.storageGiB;
    best.score = score(best.node, rules, best.cpuLeft, best.memoryLeft, best.diskLeft);
    inRegion[best.region] = bestInRegion + 1;
  }
  return { ok: true, placements };
}

function better(a: Candidate, aInRegion: number, b: Candidate, bInRegion: number): boolean {
  if (a.hosted !== b.hosted) return a.hosted < b.hosted;
  if (aInRegion !== bInRegion) return aInRegion < bInRegion;
  if (a.score !== b.score) return a.score > b.score;
  return a.node.nodeId < b.node.nodeId;
}

function firstFailedRule(node: NodeView, rules: Rules, cpuLeft: number, memoryLeft: number, diskLeft: number): ExclusionReason | undefined {
  if (node.status !== 'alive') return 'status';
  if (!rules.tiers.has(node.tier)) return 'tier';
  if (rules.regions && !rules.regions.has(node.region)) return 'region';
  for (const tag of rules.tags) if (!node.tags.includes(tag)) return 'tags';
  const uptime = node.uptime.last24h;
  if (rules.uptimeInclusive ? !(uptime >= rules.uptime) : !(uptime > rules.uptime)) return 'uptime';
  if (cpuLeft < rules.cpu) return 'cpu';
  if (memoryLeft < rules.memoryMiB) return 'memory';
  if (diskLeft < rules.storageGiB) return 'disk';
  return undefined;
}

/**
 * Uptime above the floor and the share of the node still free once the replica runs, each in [0, 1]
 * and weighed alike. Shares rather than amounts, so load spreads in proportion to each node's size
 * and cpu, memory and disk count the same whatever their units.
 */
function score(node: NodeView, rules: Rules, cpuLeft: number, memoryLeft: number, diskLeft: number): number {
  const uptime = Math.min(1, Math.max(0, (node.uptime.last24h - UPTIME_FLOOR) / (100 - UPTIME_FLOOR)));
  const free =
    (share(cpuLeft - rules.cpu, millicores(node.capabilities.cpuCores)) +
      share(memoryLeft - rules.memoryMiB, node.capabilities.memoryMiB) +
      share(diskLeft - rules.storageGiB, node.capabilities.diskGiB)) /
    3;
  return uptime + free;
}

const share = (left: number, capacity: number) => (capacity > 0 ? Math.min(1, Math.max(0, left / capacity)) : 0);

function pendingLookup(pending: PendingResources | undefined): (nodeId: string) => ReplicaResources | undefined {
  if (pending === undefined) return () => undefined;
  if (pending instanceof Map) return (nodeId) => pending.get(nodeId);
  const record = pending as Readonly<Record<string, ReplicaResources>>;
  return (nodeId) => (Object.hasOwn(record, nodeId) ? record[nodeId] : undefined);
}

function compile(request: PlacementRequest): Rules {
  const { constraints = {}, resources } = request;
  const asked = constraints.tiers !== undefined && constraints.tiers.length > 0;
  const minUptime = constraints.minUptime;
  const raised = minUptime !== undefined && minUptime > UPTIME_FLOOR;
  return {
    ...(constraints.regions && constraints.regions.length > 0 ? { regions: new Set(constraints.regions) } : {}),
    tiers: new Set(asked ? constraints.tiers!.filter((tier) => tier !== 'hyphae') : RUNNABLE_TIERS),
    tiersAsked: asked,
    tags: constraints.tags ?? [],
    uptime: raised ? minUptime : UPTIME_FLOOR,
    uptimeInclusive: raised,
    cpu: millicores(resources.cpu),
    memoryMiB: resources.memoryMiB,
    storageGiB: resources.storageGiB,
  };
}

function validate(request: PlacementRequest): InvalidPlacementRequest | undefined {
  const invalid = (field: string, message: string): InvalidPlacementRequest => ({ code: ErrorCodes.ValidationFailed, field, message });
  const amount = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value >= 0;
  if (!Number.isInteger(request.replicas) || request.replicas < 0) return invalid('replicas', 'replicas must be a whole number, 0 or more');
  const resources = request.resources as Partial<ReplicaResources> | undefined;
  if (!amount(resources?.cpu)) return invalid('resources.cpu', 'resources.cpu must be a number of cores, 0 or more');
  if (!amount(resources?.memoryMiB)) return invalid('resources.memoryMiB', 'resources.memoryMiB must be a number of MiB, 0 or more');
  if (!amount(resources?.storageGiB)) return invalid('resources.storageGiB', 'resources.storageGiB must be a number of GiB, 0 or more');
  const constraints = request.constraints ?? {};
  if (constraints.minUptime !== undefined && !(amount(constraints.minUptime) && constraints.minUptime <= 100)) {
    return invalid('constraints.minUptime', 'constraints.minUptime must be a percentage from 0 to 100');
  }
  const tiers = constraints.tiers ?? [];
  const unknown = tiers.find((tier) => !(NODE_TIERS as readonly string[]).includes(tier));
  if (unknown !== undefined) return invalid('constraints.tiers', `constraints.tiers names an unknown tier "${unknown}" (tiers: ${NODE_TIERS.join(', ')})`);
  if (tiers.length > 0 && tiers.every((tier) => tier === 'hyphae')) {
    return invalid('constraints.tiers', `constraints.tiers allows only hyphae, which run no workloads; allow ${RUNNABLE_TIERS.join(' or ')}`);
  }
  return undefined;
}

function refuse(
  total: number,
  request: PlacementRequest,
  rules: Rules,
  excluded: Record<ExclusionReason, number>,
  fitting: number,
  placeable: number,
): { ok: false; error: NoSuitableNode } {
  const { replicas, resources, constraints = {} } = request;
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const uptime = rules.uptimeInclusive ? `below ${rules.uptime}%` : `≤ ${rules.uptime}%`;
  const phrases: Record<ExclusionReason, [string, string]> = {
    status: ['is not alive', 'are not alive'],
    tier: rules.tiersAsked
      ? [`is not of tier ${[...rules.tiers].join(' or ')}`, `are not of tier ${[...rules.tiers].join(' or ')}`]
      : ['is a hypha, which runs no workloads', 'are hyphae, which run no workloads'],
    region: [`is outside the regions asked for (${constraints.regions?.join(', ')})`, `are outside the regions asked for (${constraints.regions?.join(', ')})`],
    tags: [`lacks a required tag (${rules.tags.join(', ')})`, `lack a required tag (${rules.tags.join(', ')})`],
    uptime: [`has uptime ${uptime}`, `have uptime ${uptime}`],
    cpu: ['lacks free cpu', 'lack free cpu'],
    memory: ['lacks free memory', 'lack free memory'],
    disk: ['lacks free disk', 'lack free disk'],
    colocation: ['already hosts a replica of this app', 'already host a replica of this app'],
  };
  const reasons = EXCLUSION_REASONS.filter((reason) => excluded[reason] > 0).map((reason) => count(excluded[reason], ...phrases[reason]));
  const outcome =
    fitting === 0
      ? 'none fits'
      : request.allowColocation
        ? `${count(fitting, 'fits', 'fit')}, with room for ${placeable} of the ${replicas} replicas`
        : `${count(fitting, 'fits', 'fit')} but ${replicas} are needed on distinct nodes`;

  const relax = (['tier', 'region', 'tags', 'uptime'] as const)
    .filter((reason) => excluded[reason] > 0 && (reason !== 'tier' || rules.tiersAsked) && (reason !== 'uptime' || rules.uptimeInclusive))
    .map((reason) => ({ region: 'regions', tags: 'tags', tier: 'tiers', uptime: 'minUptime' })[reason]);
  const remedies = ['add nodes'];
  if (excluded.cpu + excluded.memory + excluded.disk > 0) remedies.push('lower the resources');
  if (relax.length > 0) remedies.push(`relax the constraints (${relax.join(', ')})`);
  if (fitting > 0) remedies.push('ask for fewer replicas');
  const advice = `${remedies.slice(0, -1).join(', ')}${remedies.length > 1 ? ' or ' : ''}${remedies.at(-1)}`;

  const wanted = `${count(replicas, 'replica', 'replicas')} (cpu ${resources.cpu}, ${resources.memoryMiB} MiB, ${resources.storageGiB} GiB)`;
  const message =
    `no suitable node for ${wanted}: of ${count(total, 'node', 'nodes')}${reasons.length > 0 ? `, ${reasons.join(', ')}` : ''}; ${outcome}. ` +
    `${advice[0]!.toUpperCase()}${advice.slice(1)}.`;
  return {
    ok: false,
    error: { code: 'NO_SUITABLE_NODE', message, details: { replicas, resources: { ...resources }, nodes: total, excluded, fitting, placeable } },
  };
}
