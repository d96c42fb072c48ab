/**
 * The node tiers of the grid, from the fungal networks they are named after: sclerotia are the
 * permanent backbone, rhizomorphs adaptive semi-nodes, hyphae pure clients.
 */
export const NODE_TIERS = ['sclerotia', 'rhizomorph', 'hyphae'] as const;
export type NodeTier = (typeof NODE_TIERS)[number];

/** Higher is more: a token's tier caps the tier a node may reach. */
export const TIER_RANK: Record<NodeTier, number> = { hyphae: 0, rhizomorph: 1, sclerotia: 2 };

export function isNodeTier(value: unknown): value is NodeTier {
  return typeof value === 'string' && (NODE_TIERS as readonly string[]).includes(value);
}
