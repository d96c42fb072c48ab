import type { NodeView } from '@mycelium/contracts';
import { describe, expect, it } from 'vitest';
import { placeReplicas, type PlacementRequest, type PlacementResult } from './scheduler.js';

let serial = 0;
/** A node id from a readable label: `id('a')` sorts before `id('b')`. */
const id = (label: string) => label.padEnd(20, '0').replace(/[^0-9a-f]/g, 'f');

const node = (overrides: Partial<NodeView> = {}): NodeView => {
  serial += 1;
  return {
    nodeId: serial.toString(16).padStart(20, '0'),
    tier: 'rhizomorph',
    status: 'alive',
    region: 'eu-west',
    tags: [],
    capabilities: { cpuCores: 4, memoryMiB: 8192, diskGiB: 100, agentVersion: '0.1.0' },
    free: { cpuCores: 4, memoryMiB: 8192, diskGiB: 100 },
    uptime: { last24h: 99, last30d: 99 },
    trust: 0.8,
    joinedAt: '2026-11-20T10:00:00.000Z',
    publicKey: 'A'.repeat(43),
    ...overrides,
  };
};

const request = (overrides: Partial<PlacementRequest> = {}): PlacementRequest => ({
  replicas: 1,
  resources: { cpu: 0.5, memoryMiB: 256, storageGiB: 1 },
  ...overrides,
});

const placedOn = (result: PlacementResult) => {
  if (!result.ok) throw new Error(`expected placements, got ${result.error.code}: ${result.error.message}`);
  return result.placements.map((placement) => placement.nodeId);
};

const refusal = (result: PlacementResult) => {
  if (result.ok) throw new Error(`expected a refusal, got placements on ${result.placements.map((p) => p.nodeId).join(', ')}`);
  return result.error;
};

/** A good node beside the one under test, so a refusal of the one shows as a placement on the other. */
const control = () => node({ nodeId: id('c'), free: { cpuCores: 1, memoryMiB: 512, diskGiB: 2 } });

describe('scheduler', () => {
  describe('when nodes are eligible', () => {
    it('places each replica on a node and names its region', () => {
      const a = node({ nodeId: id('a'), region: 'eu-west' });
      expect(placeReplicas([a], request())).toEqual({ ok: true, placements: [{ nodeId: a.nodeId, region: 'eu-west' }] });
    });

    it('places nothing when asked for no replicas', () => {
      expect(placeReplicas([], request({ replicas: 0 }))).toEqual({ ok: true, placements: [] });
    });
  });

  describe('when a node breaks a rule', () => {
    const cases: [string, Partial<NodeView>][] = [
      ['late', { status: 'late' }],
      ['suspected', { status: 'suspected' }],
      ['down', { status: 'down' }],
      ['left', { status: 'left' }],
      ['a hypha', { tier: 'hyphae' }],
      ['up exactly 95% of the day', { uptime: { last24h: 95, last30d: 99 } }],
      ['short of cpu', { free: { cpuCores: 0.4, memoryMiB: 8192, diskGiB: 100 } }],
      ['short of memory', { free: { cpuCores: 4, memoryMiB: 255, diskGiB: 100 } }],
      ['short of disk', { free: { cpuCores: 4, memoryMiB: 8192, diskGiB: 0 } }],
    ];
    it.each(cases)('leaves out a node that is %s', (_label, overrides) => {
      const better = node({ nodeId: id('a'), ...overrides });
      expect(placedOn(placeReplicas([better, control()], request()))).toEqual([id('c')]);
    });

    it('takes a node up 95.01% of the day and one with exactly the resources asked for', () => {
      const a = node({ nodeId: id('a'), uptime: { last24h: 95.01, last30d: 95 } });
      const b = node({ nodeId: id('b'), free: { cpuCores: 0.5, memoryMiB: 256, diskGiB: 1 } });
      expect(placedOn(placeReplicas([a, b], request({ replicas: 2 }))).sort()).toEqual([id('a'), id('b')]);
    });

    it('runs sclerotia and rhizomorphs alike', () => {
      const a = node({ nodeId: id('a'), tier: 'sclerotia' });
      const b = node({ nodeId: id('b'), tier: 'rhizomorph' });
      expect(placedOn(placeReplicas([a, b], request({ replicas: 2 }))).sort()).toEqual([id('a'), id('b')]);
    });
  });

  describe('when resources are pending on a node', () => {
    const a = () => node({ nodeId: id('a'), free: { cpuCores: 1, memoryMiB: 1024, diskGiB: 10 } });

    it('counts pending cpu, memory and disk against what the node reports free', () => {
      for (const pending of [
        { cpu: 0.6, memoryMiB: 0, storageGiB: 0 },
        { cpu: 0, memoryMiB: 800, storageGiB: 0 },
        { cpu: 0, memoryMiB: 0, storageGiB: 10 },
      ]) {
        expect(placedOn(placeReplicas([a(), control()], request({ pending: new Map([[id('a'), pending]]) })))).toEqual([id('c')]);
      }
    });

    it('takes pending resources as a record keyed by node id too', () => {
      const pending = { [id('a')]: { cpu: 0, memoryMiB: 1024, storageGiB: 0 } };
      expect(placedOn(placeReplicas([a(), control()], request({ pending })))).toEqual([id('c')]);
    });

    it('fits a replica into exactly what is left, summing fractions of a core without drift', () => {
      const tight = node({ nodeId: id('a'), free: { cpuCores: 0.5, memoryMiB: 256, diskGiB: 1 } });
      const pending = new Map([[id('a'), { cpu: 0.1 + 0.2, memoryMiB: 0, storageGiB: 0 }]]);
      expect(placedOn(placeReplicas([tight], request({ resources: { cpu: 0.2, memoryMiB: 256, storageGiB: 1 }, pending })))).toEqual([id('a')]);
    });
  });

  describe('when the request has constraints', () => {
    it('places only in the regions asked for', () => {
      const a = node({ nodeId: id('a'), region: 'us-east' });
      const c = node({ nodeId: id('c'), region: 'eu-west', uptime: { last24h: 96, last30d: 96 } });
      expect(placedOn(placeReplicas([a, c], request({ constraints: { regions: ['eu-west', 'ap-south'] } })))).toEqual([id('c')]);
    });

    it('places only on the tiers asked for, and never on a hypha even when asked', () => {
      const a = node({ nodeId: id('a'), tier: 'rhizomorph' });
      const b = node({ nodeId: id('b'), tier: 'hyphae' });
      const c = node({ nodeId: id('c'), tier: 'sclerotia', uptime: { last24h: 96, last30d: 96 } });
      expect(placedOn(placeReplicas([a, b, c], request({ constraints: { tiers: ['sclerotia', 'hyphae'] } })))).toEqual([id('c')]);
    });

    it('places only on nodes carrying every tag asked for', () => {
      const a = node({ nodeId: id('a'), tags: ['gpu'] });
      const b = node({ nodeId: id('b'), tags: ['ssd'] });
      const c = node({ nodeId: id('c'), tags: ['ssd', 'edge', 'gpu'], uptime: { last24h: 96, last30d: 96 } });
      expect(placedOn(placeReplicas([a, b, c], request({ constraints: { tags: ['gpu', 'ssd'] } })))).toEqual([id('c')]);
    });

    it('asks for more uptime than the floor with minUptime, counting a node at exactly that value', () => {
      const a = node({ nodeId: id('a'), uptime: { last24h: 98.9, last30d: 100 }, free: { cpuCores: 4, memoryMiB: 8192, diskGiB: 100 } });
      const c = node({ nodeId: id('c'), uptime: { last24h: 99, last30d: 99 }, free: { cpuCores: 1, memoryMiB: 512, diskGiB: 2 } });
      expect(placedOn(placeReplicas([a, c], request({ constraints: { minUptime: 99 } })))).toEqual([id('c')]);
    });

    it('keeps the floor when minUptime asks for less', () => {
      const a = node({ nodeId: id('a'), uptime: { last24h: 94, last30d: 94 } });
      expect(placedOn(placeReplicas([a, control()], request({ constraints: { minUptime: 90 } })))).toEqual([id('c')]);
    });

    it('reads empty region and tag lists as no constraint', () => {
      const a = node({ nodeId: id('a'), region: 'us-east', tags: [] });
      expect(placedOn(placeReplicas([a], request({ constraints: { regions: [], tags: [], tiers: [] } })))).toEqual([id('a')]);
    });
  });

  describe('when the app has several replicas', () => {
    it('puts each on a node of its own', () => {
      // a is far roomier, so only anti-affinity keeps the second replica off it.
      const a = node({ nodeId: id('a'), capabilities: { cpuCores: 64, memoryMiB: 262_144, diskGiB: 4000, agentVersion: '1' }, free: { cpuCores: 64, memoryMiB: 262_144, diskGiB: 4000 } });
      const b = node({ nodeId: id('b'), free: { cpuCores: 1, memoryMiB: 512, diskGiB: 2 } });
      expect(placedOn(placeReplicas([a, b], request({ replicas: 2 }))).sort()).toEqual([id('a'), id('b')]);
    });

    it('keeps new replicas off nodes already hosting the app', () => {
      const a = node({ nodeId: id('a') });
      const b = node({ nodeId: id('b'), free: { cpuCores: 1, memoryMiB: 512, diskGiB: 2 } });
      expect(placedOn(placeReplicas([a, b], request({ existing: [{ nodeId: id('a'), region: 'eu-west' }] })))).toEqual([id('b')]);
    });

    it('spreads them over regions before filling one', () => {
      const eu1 = node({ nodeId: id('a1'), region: 'eu-west' });
      const eu2 = node({ nodeId: id('a2'), region: 'eu-west' });
      const us = node({ nodeId: id('b1'), region: 'us-east', uptime: { last24h: 96, last30d: 96 }, free: { cpuCores: 1, memoryMiB: 512, diskGiB: 2 } });
      const result = placeReplicas([eu1, eu2, us], request({ replicas: 2 }));
      expect(result.ok && result.placements.map((p) => p.region).sort()).toEqual(['eu-west', 'us-east']);
    });

    it('goes to the region holding the fewest of its replicas, counting those already placed', () => {
      const eu = node({ nodeId: id('a'), region: 'eu-west' });
      const us = node({ nodeId: id('b'), region: 'us-east' });
      const ap = node({ nodeId: id('c'), region: 'ap-south', uptime: { last24h: 96, last30d: 96 } });
      const existing = [
        { nodeId: id('d1'), region: 'eu-west' },
        { nodeId: id('d2'), region: 'us-east' },
      ];
      expect(placedOn(placeReplicas([eu, us, ap], request({ existing })))).toEqual([id('c')]);
    });

    it('prefers the higher score within a region: uptime, then free resources after placing', () => {
      const steady = node({ nodeId: id('b'), uptime: { last24h: 99.9, last30d: 99 } });
      const shaky = node({ nodeId: id('a'), uptime: { last24h: 97, last30d: 99 } });
      expect(placedOn(placeReplicas([shaky, steady], request()))).toEqual([id('b')]);
      const roomy = node({ nodeId: id('b'), free: { cpuCores: 4, memoryMiB: 8192, diskGiB: 100 } });
      const busy = node({ nodeId: id('a'), free: { cpuCores: 1, memoryMiB: 8192, diskGiB: 100 } });
      expect(placedOn(placeReplicas([busy, roomy], request()))).toEqual([id('b')]);
      const promised = new Map([[id('b'), { cpu: 3.5, memoryMiB: 0, storageGiB: 0 }]]);
      expect(placedOn(placeReplicas([busy, roomy], request({ pending: promised })))).toEqual([id('a')]);
    });

    it('breaks ties by node id, whatever order the nodes come in', () => {
      const nodes = ['d', 'a', 'c', 'b'].map((label) => node({ nodeId: id(label) }));
      const reversed = [...nodes].reverse();
      expect(placedOn(placeReplicas(nodes, request({ replicas: 3 })))).toEqual([id('a'), id('b'), id('c')]);
      expect(placeReplicas(reversed, request({ replicas: 3 }))).toEqual(placeReplicas(nodes, request({ replicas: 3 })));
    });
  });

  describe('when there are fewer eligible nodes than replicas', () => {
    const two = () => [node({ nodeId: id('a') }), node({ nodeId: id('b') })];

    it('refuses rather than stacking two replicas on one node', () => {
      const error = refusal(placeReplicas(two(), request({ replicas: 3 })));
      expect(error.code).toBe('NO_SUITABLE_NODE');
      expect(error.message).toMatch(/2 fit but 3 are needed on distinct nodes/);
    });

    it('refuses when the only roomy nodes already host the app', () => {
      const error = refusal(placeReplicas(two(), request({ existing: [{ nodeId: id('a'), region: 'eu-west' }, { nodeId: id('b'), region: 'eu-west' }] })));
      expect(error.message).toMatch(/of 2 nodes, 2 already host a replica of this app; none fits/);
    });

    it('stacks them on nodes with room when colocation is allowed, still spreading first', () => {
      const result = placeReplicas(two(), request({ replicas: 3, allowColocation: true }));
      expect(placedOn(result)).toEqual([id('a'), id('b'), id('a')]);
    });

    it('with colocation, still prefers a node without the app to a roomier one hosting it', () => {
      const big = node({ nodeId: id('a'), capabilities: { cpuCores: 64, memoryMiB: 262_144, diskGiB: 4000, agentVersion: '1' }, free: { cpuCores: 64, memoryMiB: 262_144, diskGiB: 4000 } });
      const small = node({ nodeId: id('b'), free: { cpuCores: 1, memoryMiB: 512, diskGiB: 2 } });
      expect(placedOn(placeReplicas([big, small], request({ replicas: 2, allowColocation: true })))).toEqual([id('a'), id('b')]);
    });

    it('with colocation, scores a node again after each replica it takes', () => {
      // The small node starts ahead on uptime, but each replica takes a quarter of it; the big node loses less.
      const small = node({ nodeId: id('a'), uptime: { last24h: 100, last30d: 100 }, capabilities: { cpuCores: 1, memoryMiB: 1024, diskGiB: 10, agentVersion: '1' }, free: { cpuCores: 1, memoryMiB: 1024, diskGiB: 10 } });
      const big = node({ nodeId: id('b'), uptime: { last24h: 99, last30d: 99 }, capabilities: { cpuCores: 4, memoryMiB: 4096, diskGiB: 40, agentVersion: '1' }, free: { cpuCores: 4, memoryMiB: 4096, diskGiB: 40 } });
      const resources = { cpu: 0.25, memoryMiB: 256, storageGiB: 2.5 };
      expect(placedOn(placeReplicas([small, big], request({ replicas: 3, resources, allowColocation: true })))).toEqual([id('a'), id('b'), id('b')]);
    });

    it('refuses even with colocation when the nodes lack room for every replica', () => {
      const small = node({ nodeId: id('a'), free: { cpuCores: 1, memoryMiB: 8192, diskGiB: 100 } });
      const error = refusal(placeReplicas([small], request({ replicas: 3, allowColocation: true })));
      expect(error.message).toMatch(/1 fits, with room for 2 of the 3 replicas/);
      expect(error.code === 'NO_SUITABLE_NODE' && error.details).toMatchObject({ fitting: 1, placeable: 2 });
    });
  });

  describe('when no node suits the request', () => {
    it('names each ruling constraint with its count, each node under the first rule it fails, and says what to do', () => {
      const nodes = [
        node({ status: 'down', tier: 'hyphae' }),
        node({ status: 'suspected', uptime: { last24h: 10, last30d: 10 } }),
        node({ uptime: { last24h: 95, last30d: 99 }, free: { cpuCores: 0, memoryMiB: 0, diskGiB: 0 } }),
        node({ free: { cpuCores: 4, memoryMiB: 100, diskGiB: 0 } }),
        node(),
      ];
      const error = refusal(placeReplicas(nodes, request({ replicas: 3 })));
      expect(error.message).toBe(
        'no suitable node for 3 replicas (cpu 0.5, 256 MiB, 1 GiB): of 5 nodes, 2 are not alive, 1 has uptime ≤ 95%, ' +
          '1 lacks free memory; 1 fits but 3 are needed on distinct nodes. Add nodes, lower the resources or ask for fewer replicas.',
      );
      expect(error.code === 'NO_SUITABLE_NODE' && error.details).toEqual({
        replicas: 3,
        resources: { cpu: 0.5, memoryMiB: 256, storageGiB: 1 },
        nodes: 5,
        excluded: { status: 2, tier: 0, region: 0, tags: 0, uptime: 1, cpu: 0, memory: 1, disk: 0, colocation: 0 },
        fitting: 1,
        placeable: 1,
      });
    });

    it('names the constraints to relax, in the order rules are checked', () => {
      const nodes = [
        node({ tier: 'hyphae', region: 'us-east' }),
        node({ tier: 'rhizomorph' }),
        node({ tier: 'sclerotia', region: 'us-east' }),
        node({ tier: 'sclerotia', tags: ['ssd'] }),
        node({ tier: 'sclerotia', tags: ['gpu'], uptime: { last24h: 99.5, last30d: 99 } }),
        node({ tier: 'sclerotia', tags: ['gpu'], uptime: { last24h: 100, last30d: 99 }, free: { cpuCores: 0.25, memoryMiB: 8192, diskGiB: 100 } }),
        node({ tier: 'sclerotia', tags: ['gpu'], uptime: { last24h: 99.9, last30d: 99 }, free: { cpuCores: 4, memoryMiB: 8192, diskGiB: 0 } }),
      ];
      const constraints = { tiers: ['sclerotia' as const], regions: ['eu-west'], tags: ['gpu'], minUptime: 99.9 };
      const error = refusal(placeReplicas(nodes, request({ constraints })));
      expect(error.message).toBe(
        'no suitable node for 1 replica (cpu 0.5, 256 MiB, 1 GiB): of 7 nodes, 2 are not of tier sclerotia, ' +
          '1 is outside the regions asked for (eu-west), 1 lacks a required tag (gpu), 1 has uptime below 99.9%, ' +
          '1 lacks free cpu, 1 lacks free disk; none fits. ' +
          'Add nodes, lower the resources or relax the constraints (tiers, regions, tags, minUptime).',
      );
    });

    it('says hyphae run no workloads when no tier was asked for, and that there are no nodes at all', () => {
      expect(refusal(placeReplicas([node({ tier: 'hyphae' })], request())).message).toMatch(/of 1 node, 1 is a hypha, which runs no workloads; none fits\. Add nodes\.$/);
      expect(refusal(placeReplicas([], request())).message).toMatch(/of 0 nodes; none fits\. Add nodes\.$/);
    });
  });

  describe('when the request is malformed', () => {
    const cases: [string, PlacementRequest][] = [
      ['replicas', request({ replicas: 1.5 })],
      ['replicas', request({ replicas: -1 })],
      ['resources.cpu', request({ resources: { cpu: Number.NaN, memoryMiB: 1, storageGiB: 1 } })],
      ['resources.memoryMiB', request({ resources: { cpu: 1, memoryMiB: -1, storageGiB: 1 } })],
      ['resources.storageGiB', request({ resources: { cpu: 1, memoryMiB: 1, storageGiB: Number.POSITIVE_INFINITY } })],
      ['constraints.minUptime', request({ constraints: { minUptime: 101 } })],
      ['constraints.tiers', request({ constraints: { tiers: ['hyphae'] } })],
      ['constraints.tiers', request({ constraints: { tiers: ['mycelium' as never] } })],
    ];
    it.each(cases)('refuses a bad %s, naming the field', (field, bad) => {
      const error = refusal(placeReplicas([node()], bad));
      expect(error).toMatchObject({ code: 'VALIDATION_FAILED', field });
      expect(error.message).toContain(field);
    });

    it('leaves the pending resources it was given as they were', () => {
      const pending = new Map([[id('a'), { cpu: 1, memoryMiB: 1, storageGiB: 1 }]]);
      placeReplicas([node({ nodeId: id('a') })], request({ replicas: 1, pending }));
      placeReplicas([node({ nodeId: id('a') })], request({ replicas: 2, allowColocation: true, pending }));
      expect([...pending]).toEqual([[id('a'), { cpu: 1, memoryMiB: 1, storageGiB: 1 }]]);
    });
  });
});
