import { CommandRejection, NodeCapabilitiesUpdated, NodeDeclaredDown, NodeDemoted, NodeHeartbeatMissed, NodeJoined, NodeLeft, NodePromoted, NodeRecovered, NodeSuspected, NodeTrustChanged } from '@mycelium/contracts';
import { describe, expect, it } from 'vitest';
import type { NodeEvent } from './node.js';
import { type NodeCommand, nodeDecider } from './node.decider.js';
import { DEFAULT_TIER_RULES } from './tier-rules.js';

const nodeId = '0123456789abcdef0123';
const publicKey = 'A'.repeat(43);
const capabilities = { cpuCores: 8, memoryMiB: 16384, diskGiB: 500, region: 'eu-west', tags: ['ssd'], agentVersion: '0.1.0' };
const at = (minute: number) => new Date(Date.UTC(2026, 10, 23, 10, minute)).toISOString();

const join = (overrides: Partial<Extract<NodeCommand, { type: 'JoinNode' }>['data']> = {}): NodeCommand => ({
  type: 'JoinNode',
  data: {
    nodeId,
    publicKey,
    network: 'net-1',
    token: { id: '01890a5d-ac96-774b-bcce-b302099a8057', tier: 'sclerotia' },
    requestedTier: 'sclerotia',
    capabilities,
    initialTrust: 0.5,
    rules: DEFAULT_TIER_RULES,
    now: at(0),
    ...overrides,
  },
});

/** given(events).when(command) → the events decided. */
const given = (events: NodeEvent[]) => ({
  when: (command: NodeCommand) => nodeDecider.decide(command, events.reduce(nodeDecider.evolve, nodeDecider.initialState())),
});

const joined = nodeDecider.decide(join(), nodeDecider.initialState());

describe('node decider', () => {
  describe('when the node is not a member', () => {
    it('joins it with a valid token, as a rhizomorph: nobody starts as a sclerotium', () => {
      expect(joined).toEqual([
        {
          type: NodeJoined.type,
          data: expect.objectContaining({ nodeId, publicKey, maxTier: 'sclerotia', requestedTier: 'sclerotia', tier: 'rhizomorph', trust: 0.5, at: at(0) }),
        },
      ]);
    });

    it('makes a node offering too little a hypha', () => {
      const [event] = given([]).when(join({ capabilities: { ...capabilities, memoryMiB: 512 } }));
      expect(event!.data).toMatchObject({ tier: 'hyphae' });
    });

    it('refuses a join without a token', () => {
      expect(() => given([]).when(join({ token: undefined }))).toThrow(expect.objectContaining({ code: 'NOT_A_MEMBER', field: 'token' }));
    });

    it('refuses a sign of life: it must join first', () => {
      expect(() => given([]).when({ type: 'RecordSignOfLife', data: { now: at(1) } })).toThrow(CommandRejection);
    });
  });

  describe('when the node is alive', () => {
    it('does nothing on a rejoin with the same capabilities', () => {
      expect(given(joined).when(join({ token: undefined, now: at(5) }))).toEqual([]);
    });

    it('records changed capabilities on a rejoin', () => {
      expect(given(joined).when(join({ token: undefined, capabilities: { ...capabilities, cpuCores: 16 }, now: at(5) }))).toEqual([
        { type: NodeCapabilitiesUpdated.type, data: { nodeId, capabilities: { ...capabilities, cpuCores: 16 }, at: at(5) } },
      ]);
    });

    it('refuses a rejoin with another key for the same id', () => {
      expect(() => given(joined).when(join({ publicKey: 'B'.repeat(43) }))).toThrow(expect.objectContaining({ code: 'NODE_ID_MISMATCH' }));
    });

    it('marks it late on a missed heartbeat, then suspected, then down', () => {
      const late = given(joined).when({ type: 'RecordHeartbeatMissed', data: { lastHeartbeatAt: at(0), now: at(1) } });
      expect(late).toEqual([{ type: NodeHeartbeatMissed.type, data: { nodeId, lastHeartbeatAt: at(0), at: at(1) } }]);
      const suspected = given([...joined, ...late]).when({ type: 'SuspectNode', data: { missedHeartbeats: 3, lastHeartbeatAt: at(0), now: at(2) } });
      expect(suspected).toEqual([{ type: NodeSuspected.type, data: { nodeId, missedHeartbeats: 3, lastHeartbeatAt: at(0), at: at(2) } }]);
      const down = given([...joined, ...late, ...suspected]).when({ type: 'DeclareNodeDown', data: { lastHeartbeatAt: at(0), now: at(4) } });
      expect(down).toEqual([{ type: NodeDeclaredDown.type, data: { nodeId, suspectedAt: at(2), lastHeartbeatAt: at(0), at: at(4) } }]);
    });

    it('does not judge silence measured before the node was last heard from (a recovery won the race)', () => {
      const recovered: NodeEvent[] = [
        ...joined,
        { type: NodeHeartbeatMissed.type, data: { nodeId, lastHeartbeatAt: at(0), at: at(1) } },
        { type: NodeRecovered.type, data: { nodeId, from: 'late', at: at(3) } },
      ];
      expect(given(recovered).when({ type: 'SuspectNode', data: { missedHeartbeats: 3, lastHeartbeatAt: at(2), now: at(4) } })).toEqual([]);
      expect(given(recovered).when({ type: 'RecordHeartbeatMissed', data: { lastHeartbeatAt: at(2), now: at(4) } })).toEqual([]);
      expect(given(recovered).when({ type: 'SuspectNode', data: { missedHeartbeats: 3, lastHeartbeatAt: at(3), now: at(5) } })).toHaveLength(1);
      const late = recovered.slice(0, 2);
      expect(given(late).when({ type: 'SuspectNode', data: { missedHeartbeats: 3, lastHeartbeatAt: at(0), now: at(5) } })).toHaveLength(1);
    });

    it('does not declare down a node that was never suspected', () => {
      expect(given(joined).when({ type: 'DeclareNodeDown', data: { lastHeartbeatAt: at(0), now: at(4) } })).toEqual([]);
    });

    it('lets it leave once', () => {
      const left = given(joined).when({ type: 'LeaveGrid', data: { reason: 'SIGTERM', now: at(3) } });
      expect(left).toEqual([{ type: NodeLeft.type, data: { nodeId, reason: 'SIGTERM', at: at(3) } }]);
      expect(given([...joined, ...left]).when({ type: 'LeaveGrid', data: { reason: 'again', now: at(4) } })).toEqual([]);
    });

    it('promotes and demotes within what its token allows, and no further', () => {
      const promoted = given(joined).when({ type: 'ChangeTier', data: { to: 'sclerotia', reason: 'rule', now: at(9) } });
      expect(promoted).toEqual([{ type: NodePromoted.type, data: { nodeId, from: 'rhizomorph', to: 'sclerotia', reason: 'rule', at: at(9) } }]);
      expect(given([...joined, ...promoted]).when({ type: 'ChangeTier', data: { to: 'hyphae', reason: 'rule', now: at(10) } })).toEqual([
        { type: NodeDemoted.type, data: { nodeId, from: 'sclerotia', to: 'hyphae', reason: 'rule', at: at(10) } },
      ]);
      const capped = nodeDecider.decide(join({ token: { id: '01890a5d-ac96-774b-bcce-b302099a8058', tier: 'rhizomorph' } }), nodeDecider.initialState());
      expect(() => given(capped).when({ type: 'ChangeTier', data: { to: 'sclerotia', reason: 'rule', now: at(9) } })).toThrow(
        expect.objectContaining({ code: 'TIER_NOT_ALLOWED' }),
      );
    });

    it('changes its trust, not when it is already that', () => {
      expect(given(joined).when({ type: 'SetTrust', data: { trust: 0.9, reason: 'consensus', now: at(2) } })).toEqual([
        { type: NodeTrustChanged.type, data: { nodeId, from: 0.5, to: 0.9, reason: 'consensus', at: at(2) } },
      ]);
      expect(given(joined).when({ type: 'SetTrust', data: { trust: 0.5, reason: 'same', now: at(2) } })).toEqual([]);
    });
  });

  describe('when the node was down or left', () => {
    const downed: NodeEvent[] = [
      ...joined,
      { type: NodeSuspected.type, data: { nodeId, missedHeartbeats: 3, lastHeartbeatAt: at(0), at: at(1) } },
      { type: NodeDeclaredDown.type, data: { nodeId, suspectedAt: at(1), lastHeartbeatAt: at(0), at: at(2) } },
    ];

    it('recovers it on a sign of life', () => {
      expect(given(downed).when({ type: 'RecordSignOfLife', data: { now: at(3) } })).toEqual([
        { type: NodeRecovered.type, data: { nodeId, from: 'down', at: at(3) } },
      ]);
    });

    it('refuses a replayed leave after the node has joined again, and a replayed join', () => {
      const signed = (minute: number) => at(minute);
      const left = given([]).when(join({ signedAt: signed(0) }));
      const leave = { type: 'LeaveGrid', data: { reason: 'SIGTERM', signedAt: signed(1), now: at(1) } } as const;
      const history = [...left, ...given(left).when(leave)];
      const rejoined = [...history, ...given(history).when(join({ token: undefined, signedAt: signed(2), now: at(2) }))];
      expect(rejoined.at(-1)).toEqual({ type: NodeRecovered.type, data: { nodeId, from: 'left', at: at(2), signedAt: signed(2) } });
      expect(() => given(rejoined).when(leave)).toThrow(expect.objectContaining({ code: 'REPLAY' }));
      expect(() => given(rejoined).when(join({ token: undefined, signedAt: signed(2), now: at(3) }))).toThrow(expect.objectContaining({ code: 'REPLAY' }));
      expect(given(rejoined).when({ ...leave, data: { ...leave.data, signedAt: signed(3) } })).toHaveLength(1);
    });

    it('recovers a node that left when it joins again, without a new token', () => {
      const left: NodeEvent[] = [...joined, { type: NodeLeft.type, data: { nodeId, reason: 'SIGTERM', at: at(1) } }];
      expect(given(left).when(join({ token: undefined, now: at(5) }))).toEqual([{ type: NodeRecovered.type, data: { nodeId, from: 'left', at: at(5) } }]);
      expect(() => given(left).when({ type: 'RecordSignOfLife', data: { now: at(5) } })).toThrow(expect.objectContaining({ code: 'NOT_A_MEMBER' }));
    });
  });
});
