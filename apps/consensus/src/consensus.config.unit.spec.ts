import { describe, expect, it } from 'vitest';
import { consensusConfigFromEnv } from './consensus.config.js';

describe('consensus configuration', () => {
  it('reads the genesis nodes as a comma-separated list of node ids, skipping anything else', () => {
    const config = consensusConfigFromEnv({ MYCELIUM_GENESIS_NODES: ' 3d8ac47b23d5cd0ca41b, not-a-node ,4c98ae96125432bd7f4d' });
    expect(config.genesisNodes).toEqual(['3d8ac47b23d5cd0ca41b', '4c98ae96125432bd7f4d']);
  });

  it('starts genesis nodes at 0.9, others at 0.5, excludes below 0.2, asks committees of 25 with a 2/3 quorum by default', () => {
    expect(consensusConfigFromEnv({})).toMatchObject({ genesisNodes: [], genesisTrust: 0.9, initialTrust: 0.5, exclusionThreshold: 0.2, defaultQuorum: 2 / 3, committeeSize: 25 });
  });
});
