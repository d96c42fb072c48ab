import type { NodeTierName } from '@mycelium/contracts';
import type { KnownNode } from './node.js';

export const TIER_RANK: Record<NodeTierName, number> = { hyphae: 0, rhizomorph: 1, sclerotia: 2 };

/**
 * When a node moves between tiers. Promotion asks more than keeping a tier, so a node near a
 * threshold does not flap. A node never rises above what its join token allows, nor above the
 * tier it asked for.
 */
export interface TierRules {
  sclerotia: { minUptime: number; minTrust: number; minCpuCores: number; minMemoryMiB: number; minDiskGiB: number; minAgeMs: number };
  /** Below these a sclerotium becomes a rhizomorph. */
  keepSclerotia: { minUptime: number; minTrust: number };
  rhizomorph: { minTrust: number; minCpuCores: number; minMemoryMiB: number; minDiskGiB: number };
  /** Below these a rhizomorph becomes a hypha. */
  keepRhizomorph: { minTrust: number };
}

export const DEFAULT_TIER_RULES: TierRules = {
  sclerotia: { minUptime: 99, minTrust: 0.7, minCpuCores: 4, minMemoryMiB: 8192, minDiskGiB: 100, minAgeMs: 24 * 60 * 60 * 1000 },
  keepSclerotia: { minUptime: 95, minTrust: 0.5 },
  rhizomorph: { minTrust: 0.2, minCpuCores: 1, minMemoryMiB: 1024, minDiskGiB: 10 },
  keepRhizomorph: { minTrust: 0.1 },
};

export interface TierDecision {
  tier: NodeTierName;
  reason: string;
}

const lowest = (a: NodeTierName, b: NodeTierName) => (TIER_RANK[a] <= TIER_RANK[b] ? a : b);

/** The highest tier a node may hold: its token's and its own request's, whichever is lower. */
export function tierCeiling(node: Pick<KnownNode, 'maxTier' | 'requestedTier'>): NodeTierName {
  return lowest(node.maxTier, node.requestedTier);
}

function offersRhizomorph(node: KnownNode, rules: TierRules): string | undefined {
  const { capabilities: c } = node;
  const r = rules.rhizomorph;
  if (c.cpuCores < r.minCpuCores) return `${c.cpuCores} cpu cores, a rhizomorph offers at least ${r.minCpuCores}`;
  if (c.memoryMiB < r.minMemoryMiB) return `${c.memoryMiB} MiB memory, a rhizomorph offers at least ${r.minMemoryMiB}`;
  if (c.diskGiB < r.minDiskGiB) return `${c.diskGiB} GiB disk, a rhizomorph offers at least ${r.minDiskGiB}`;
  return undefined;
}

function sclerotiaShortfall(node: KnownNode, uptime24h: number, now: Date, rules: TierRules): string | undefined {
  const { capabilities: c } = node;
  const s = rules.sclerotia;
  if (now.getTime() - Date.parse(node.joinedAt) < s.minAgeMs) return `member for less than ${Math.round(s.minAgeMs / 3_600_000 * 10) / 10} h`;
  if (uptime24h < s.minUptime) return `uptime ${uptime24h}% over 24 h, below ${s.minUptime}%`;
  if (node.trust < s.minTrust) return `trust ${node.trust}, below ${s.minTrust}`;
  if (c.cpuCores < s.minCpuCores) return `${c.cpuCores} cpu cores, below ${s.minCpuCores}`;
  if (c.memoryMiB < s.minMemoryMiB) return `${c.memoryMiB} MiB memory, below ${s.minMemoryMiB}`;
  if (c.diskGiB < s.minDiskGiB) return `${c.diskGiB} GiB disk, below ${s.minDiskGiB}`;
  return undefined;
}

/**
 * The two kinds of sclerotia: dedicated ones are always on (their owner tags them `dedicated` and
 * they keep 99.9% uptime over 30 days); dynamic ones come and go within what the tier allows.
 */
export function sclerotiumKind(node: Pick<KnownNode, 'tier' | 'capabilities'>, uptime30d: number): 'dedicated' | 'dynamic' | undefined {
  if (node.tier !== 'sclerotia') return undefined;
  return node.capabilities.tags.includes('dedicated') && uptime30d >= 99.9 ? 'dedicated' : 'dynamic';
}

/** The tier a node should start in when it joins. */
export function initialTier(node: Pick<KnownNode, 'maxTier' | 'requestedTier' | 'capabilities' | 'trust'>, rules: TierRules): TierDecision {
  const ceiling = tierCeiling(node);
  if (ceiling === 'hyphae') return { tier: 'hyphae', reason: 'asked for (or allowed) no more than hyphae' };
  const lacking = offersRhizomorph(node as KnownNode, rules);
  if (lacking) return { tier: 'hyphae', reason: lacking };
  if (node.trust < rules.rhizomorph.minTrust) return { tier: 'hyphae', reason: `trust ${node.trust}, below ${rules.rhizomorph.minTrust}` };
  // Nobody starts as a sclerotium: that takes a day of proven uptime.
  return { tier: 'rhizomorph', reason: 'offers the resources of a rhizomorph' };
}

/** The tier a member should move to now, or undefined to stay. */
export function nextTier(node: KnownNode, uptime24h: number, now: Date, rules: TierRules): TierDecision | undefined {
  if (node.status === 'left') return undefined;
  const ceiling = tierCeiling(node);
  const lacking = offersRhizomorph(node, rules);
  switch (node.tier) {
    case 'sclerotia': {
      const keep = rules.keepSclerotia;
      if (TIER_RANK[ceiling] < TIER_RANK.sclerotia) return { tier: ceiling, reason: `its token or request allows only ${ceiling}` };
      if (uptime24h < keep.minUptime) return { tier: 'rhizomorph', reason: `uptime ${uptime24h}% over 24 h fell below ${keep.minUptime}%` };
      if (node.trust < keep.minTrust) return { tier: 'rhizomorph', reason: `trust ${node.trust} fell below ${keep.minTrust}` };
      if (lacking) return { tier: 'hyphae', reason: lacking };
      return undefined;
    }
    case 'rhizomorph': {
      if (ceiling === 'hyphae') return { tier: 'hyphae', reason: 'its token or request allows only hyphae' };
      if (node.trust < rules.keepRhizomorph.minTrust) return { tier: 'hyphae', reason: `trust ${node.trust} fell below ${rules.keepRhizomorph.minTrust}` };
      if (lacking) return { tier: 'hyphae', reason: lacking };
      if (ceiling === 'sclerotia' && node.status === 'alive' && !sclerotiaShortfall(node, uptime24h, now, rules)) {
        return { tier: 'sclerotia', reason: `uptime ${uptime24h}% over 24 h, trust ${node.trust} and its resources meet the sclerotia rule` };
      }
      return undefined;
    }
    case 'hyphae': {
      if (ceiling === 'hyphae' || lacking || node.trust < rules.rhizomorph.minTrust || node.status !== 'alive') return undefined;
      return { tier: 'rhizomorph', reason: 'now offers the resources and trust of a rhizomorph' };
    }
    default: {
      const unknownTier: never = node.tier;
      return unknownTier;
    }
  }
}
