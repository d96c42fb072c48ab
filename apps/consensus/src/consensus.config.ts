/** How the consensus service behaves; every value has an environment variable (docs/adr/0017). */
export interface ConsensusConfig {
  /** Nodes trusted from the start (MYCELIUM_GENESIS_NODES, comma-separated node ids). */
  genesisNodes: string[];
  /** Where genesis nodes start. */
  genesisTrust: number;
  /** Where every other node starts. */
  initialTrust: number;
  /** Nodes below this are not invited to rounds. */
  exclusionThreshold: number;
  /** Share of the invited trust weight the winning option needs, when the round does not say. */
  defaultQuorum: number;
  /**
   * How many nodes a round asks when it does not name its participants: a trust-weighted random
   * draw among the alive and trusted (docs/adr/0019). Every such node when there are fewer.
   */
  committeeSize: number;
  /** How long a list of the alive nodes serves the rounds opened meanwhile. */
  aliveNodesMaxAgeMs: number;
  /** How often the closer looks for rounds past their reveal deadline. */
  closerTickMs: number;
}

export const CONSENSUS_CONFIG = Symbol('mycelium:consensus-config');

const number = (value: string | undefined, fallback: number) => (value !== undefined && value !== '' && Number.isFinite(Number(value)) ? Number(value) : fallback);

export function consensusConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ConsensusConfig {
  return {
    genesisNodes: (env.MYCELIUM_GENESIS_NODES ?? '')
      .split(',')
      .map((nodeId) => nodeId.trim())
      .filter((nodeId) => /^[0-9a-f]{20}$/.test(nodeId)),
    genesisTrust: number(env.MYCELIUM_GENESIS_TRUST, 0.9),
    initialTrust: number(env.MYCELIUM_CONSENSUS_INITIAL_TRUST, 0.5),
    exclusionThreshold: number(env.MYCELIUM_TRUST_EXCLUSION_THRESHOLD, 0.2),
    defaultQuorum: number(env.MYCELIUM_CONSENSUS_QUORUM, 2 / 3),
    committeeSize: number(env.MYCELIUM_CONSENSUS_COMMITTEE_SIZE, 25),
    aliveNodesMaxAgeMs: number(env.MYCELIUM_CONSENSUS_ALIVE_MAX_AGE_MS, 1000),
    closerTickMs: number(env.MYCELIUM_CONSENSUS_CLOSER_TICK_MS, 250),
  };
}

export function defaultConsensusConfig(overrides: Partial<ConsensusConfig> = {}): ConsensusConfig {
  return { ...consensusConfigFromEnv({}), ...overrides };
}
