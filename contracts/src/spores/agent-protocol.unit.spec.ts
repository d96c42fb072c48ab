import { describe, expect, it } from 'vitest';
import { validatePayload } from '../registry.js';
import { JoinRequestV1 } from './agent-protocol.v1.js';

const join = (gossipAddress: string) => ({
  kind: 'join',
  nodeId: '0123456789abcdef0123',
  network: 'net-0123456789abcdef',
  ts: Date.now(),
  nonce: 'n'.repeat(22),
  requestedTier: 'rhizomorph',
  capabilities: { cpuCores: 2, memoryMiB: 2048, diskGiB: 20, region: 'eu-west', tags: [], agentVersion: '0.1.0' },
  gossipAddress,
});

describe('join request', () => {
  it('takes a gossip address peers can reach, and refuses one gossip would drop, naming the field', () => {
    for (const good of ['http://203.0.113.7:7946', 'https://node-7.example.org', 'http://[::1]:7946']) {
      expect(() => validatePayload(JoinRequestV1, join(good), { forbidUnknown: true })).not.toThrow();
    }
    for (const bad of ['ftp://203.0.113.7', 'http://user:pass@203.0.113.7', 'http://203.0.113.7/?q=1', 'not a url', `http://${'a'.repeat(200)}`]) {
      expect(() => validatePayload(JoinRequestV1, join(bad), { forbidUnknown: true }), bad).toThrow(expect.objectContaining({ field: 'gossipAddress' }));
    }
  });
});
