import {
  CommandRejection,
  ErrorCodes,
  NodeCapabilitiesUpdated,
  type NodeCapabilitiesV1,
  NodeDeclaredDown,
  NodeDemoted,
  NodeHeartbeatMissed,
  NodeJoined,
  NodeLeft,
  NodePromoted,
  NodeRecovered,
  NodeSuspected,
  type NodeTierName,
  NodeTrustChanged,
} from '@mycelium/contracts';
import type { Decider } from '@mycelium/eventstore';
import { evolveNode, initialNodeState, type NodeEvent, type NodeState } from './node.js';
import { initialTier, TIER_RANK, type TierRules } from './tier-rules.js';

/** What can happen to a node. Times come in as data: the decider reads no clock. */
export type NodeCommand =
  | {
      type: 'JoinNode';
      data: {
        nodeId: string;
        publicKey: string;
        network: string;
        /** Present on a first join: the verified token's id and tier. */
        token?: { id: string; tier: NodeTierName };
        requestedTier: NodeTierName;
        capabilities: NodeCapabilitiesV1;
        gossipAddress?: string;
        initialTrust: number;
        rules: TierRules;
        /** When the node signed the join: one no newer than the last accepted is a replay. */
        signedAt?: string;
        now: string;
      };
    }
  | { type: 'RecordHeartbeatMissed'; data: { lastHeartbeatAt: string; now: string } }
  | { type: 'SuspectNode'; data: { missedHeartbeats: number; lastHeartbeatAt: string; now: string } }
  | { type: 'DeclareNodeDown'; data: { lastHeartbeatAt: string; now: string } }
  | { type: 'RecordSignOfLife'; data: { now: string } }
  | { type: 'LeaveGrid'; data: { reason: string; signedAt?: string; now: string } }
  | { type: 'ChangeTier'; data: { to: NodeTierName; reason: string; now: string } }
  | { type: 'SetTrust'; data: { trust: number; reason: string; now: string } };

export const NodeErrors = {
  NotAMember: 'NOT_A_MEMBER',
  KeyMismatch: 'NODE_ID_MISMATCH',
  AboveCeiling: 'TIER_NOT_ALLOWED',
  Replay: 'REPLAY',
} as const;

/**
 * A judgement of silence made before the node last became alive (a recovery that won the race to
 * the stream) is stale: the node has been heard since.
 */
const changedSince = (state: NodeState, lastHeartbeatAt: string) =>
  state.status === 'alive' && Date.parse(state.statusSince) > Date.parse(lastHeartbeatAt);

/**
 * Each spores instance remembers the nonces it has seen, but a replayed join or leave may reach
 * another instance, or one restarted since: the node's stream remembers the newest it accepted.
 */
function refuseReplay(state: NodeState, signedAt: string | undefined): void {
  if (state.status === 'unknown' || !signedAt || !state.lastSignedAt) return;
  if (Date.parse(signedAt) <= Date.parse(state.lastSignedAt)) {
    throw new CommandRejection({ code: NodeErrors.Replay, message: 'the node has signed a newer message already: this one is a replay or out of order' });
  }
}

const sameCapabilities = (a: NodeCapabilitiesV1, b: NodeCapabilitiesV1) => JSON.stringify(a) === JSON.stringify(b);

export function decideNode(command: NodeCommand, state: NodeState): NodeEvent[] {
  switch (command.type) {
    case 'JoinNode': {
      const { data } = command;
      const signedAt = data.signedAt ? { signedAt: data.signedAt } : {};
      if (state.status === 'unknown') {
        if (!data.token) {
          throw new CommandRejection({ code: NodeErrors.NotAMember, message: 'this node is not a member yet: join with a token (myc node token)', field: 'token' });
        }
        const tier = initialTier(
          { maxTier: data.token.tier, requestedTier: data.requestedTier, capabilities: data.capabilities, trust: data.initialTrust },
          data.rules,
        );
        return [
          {
            type: NodeJoined.type,
            data: {
              nodeId: data.nodeId,
              publicKey: data.publicKey,
              network: data.network,
              tokenId: data.token.id,
              maxTier: data.token.tier,
              requestedTier: data.requestedTier,
              tier: tier.tier,
              capabilities: data.capabilities,
              ...(data.gossipAddress ? { gossipAddress: data.gossipAddress } : {}),
              trust: data.initialTrust,
              at: data.now,
              ...signedAt,
            },
          },
        ];
      }
      if (state.publicKey !== data.publicKey) {
        throw new CommandRejection({ code: NodeErrors.KeyMismatch, message: 'this node id belongs to another key' });
      }
      refuseReplay(state, data.signedAt);
      const events: NodeEvent[] = [];
      if (state.status !== 'alive') events.push({ type: NodeRecovered.type, data: { nodeId: data.nodeId, from: state.status, at: data.now, ...signedAt } });
      if (!sameCapabilities(state.capabilities, data.capabilities) || (data.gossipAddress && data.gossipAddress !== state.gossipAddress)) {
        events.push({
          type: NodeCapabilitiesUpdated.type,
          data: { nodeId: data.nodeId, capabilities: data.capabilities, ...(data.gossipAddress ? { gossipAddress: data.gossipAddress } : {}), at: data.now, ...signedAt },
        });
      }
      return events;
    }
    case 'RecordHeartbeatMissed':
      return state.status === 'alive' && !changedSince(state, command.data.lastHeartbeatAt)
        ? [{ type: NodeHeartbeatMissed.type, data: { nodeId: state.nodeId, lastHeartbeatAt: command.data.lastHeartbeatAt, at: command.data.now } }]
        : [];
    case 'SuspectNode':
      return (state.status === 'alive' || state.status === 'late') && !changedSince(state, command.data.lastHeartbeatAt)
        ? [
            {
              type: NodeSuspected.type,
              data: { nodeId: state.nodeId, missedHeartbeats: command.data.missedHeartbeats, lastHeartbeatAt: command.data.lastHeartbeatAt, at: command.data.now },
            },
          ]
        : [];
    case 'DeclareNodeDown':
      return state.status === 'suspected'
        ? [
            {
              type: NodeDeclaredDown.type,
              data: { nodeId: state.nodeId, suspectedAt: state.suspectedAt ?? state.statusSince, lastHeartbeatAt: command.data.lastHeartbeatAt, at: command.data.now },
            },
          ]
        : [];
    case 'RecordSignOfLife': {
      if (state.status === 'unknown' || state.status === 'left') {
        throw new CommandRejection({ code: NodeErrors.NotAMember, message: 'this node is not a member (or has left): join again' });
      }
      return state.status === 'alive' ? [] : [{ type: NodeRecovered.type, data: { nodeId: state.nodeId, from: state.status, at: command.data.now } }];
    }
    case 'LeaveGrid':
      if (state.status === 'unknown') throw new CommandRejection({ code: NodeErrors.NotAMember, message: 'this node is not a member' });
      refuseReplay(state, command.data.signedAt);
      return state.status === 'left'
        ? []
        : [
            {
              type: NodeLeft.type,
              data: { nodeId: state.nodeId, reason: command.data.reason, at: command.data.now, ...(command.data.signedAt ? { signedAt: command.data.signedAt } : {}) },
            },
          ];
    case 'ChangeTier': {
      if (state.status === 'unknown') throw new CommandRejection({ code: ErrorCodes.NotFound, message: 'no such node' });
      const { to, reason, now } = command.data;
      if (to === state.tier) return [];
      if (TIER_RANK[to] > TIER_RANK[state.maxTier]) {
        throw new CommandRejection({ code: NodeErrors.AboveCeiling, message: `the node's join token allows at most ${state.maxTier}`, field: 'to' });
      }
      const change = { nodeId: state.nodeId, from: state.tier, to, reason, at: now };
      return [TIER_RANK[to] > TIER_RANK[state.tier] ? { type: NodePromoted.type, data: change } : { type: NodeDemoted.type, data: change }];
    }
    case 'SetTrust': {
      if (state.status === 'unknown') throw new CommandRejection({ code: ErrorCodes.NotFound, message: 'no such node', field: 'nodeId' });
      const { trust, reason, now } = command.data;
      return trust === state.trust ? [] : [{ type: NodeTrustChanged.type, data: { nodeId: state.nodeId, from: state.trust, to: trust, reason, at: now } }];
    }
    default: {
      const unknownCommand: never = command;
      return unknownCommand;
    }
  }
}

export const nodeDecider: Decider<NodeCommand, NodeEvent, NodeState> = {
  decide: decideNode,
  evolve: evolveNode,
  initialState: initialNodeState,
};
