import {
  NodeCapabilitiesUpdated,
  type NodeCapabilitiesUpdatedV1,
  type NodeCapabilitiesV1,
  NodeDeclaredDown,
  type NodeDeclaredDownV1,
  NodeDemoted,
  NodeHeartbeatMissed,
  type NodeHeartbeatMissedV1,
  NodeJoined,
  type NodeJoinedV1,
  NodeLeft,
  type NodeLeftV1,
  NodePromoted,
  NodeRecovered,
  type NodeRecoveredV1,
  type NodeStatusName,
  NodeSuspected,
  type NodeSuspectedV1,
  type NodeTierName,
  NodeTrustChanged,
  type NodeTrustChangedV1,
  type TierChangeV1,
} from '@mycelium/contracts';
import { type AvailabilityChange, trimAvailability } from './uptime.js';

/** The node aggregate's events, as contract type and payload. */
export type NodeEvent =
  | { type: typeof NodeJoined.type; data: NodeJoinedV1 }
  | { type: typeof NodeCapabilitiesUpdated.type; data: NodeCapabilitiesUpdatedV1 }
  | { type: typeof NodeHeartbeatMissed.type; data: NodeHeartbeatMissedV1 }
  | { type: typeof NodeSuspected.type; data: NodeSuspectedV1 }
  | { type: typeof NodeDeclaredDown.type; data: NodeDeclaredDownV1 }
  | { type: typeof NodeRecovered.type; data: NodeRecoveredV1 }
  | { type: typeof NodeLeft.type; data: NodeLeftV1 }
  | { type: typeof NodePromoted.type; data: TierChangeV1 }
  | { type: typeof NodeDemoted.type; data: TierChangeV1 }
  | { type: typeof NodeTrustChanged.type; data: NodeTrustChangedV1 };

export interface KnownNode {
  status: NodeStatusName;
  nodeId: string;
  publicKey: string;
  network: string;
  maxTier: NodeTierName;
  requestedTier: NodeTierName;
  tier: NodeTierName;
  capabilities: NodeCapabilitiesV1;
  gossipAddress?: string;
  trust: number;
  joinedAt: string;
  /** When the node entered its current status. */
  statusSince: string;
  /** When it was declared suspected, while it is. */
  suspectedAt?: string;
  /** When the node signed the latest join or leave accepted from it. */
  lastSignedAt?: string;
  availability: AvailabilityChange[];
}

export type NodeState = { status: 'unknown' } | KnownNode;

export const initialNodeState = (): NodeState => ({ status: 'unknown' });

const isUp = (status: NodeStatusName) => status === 'alive' || status === 'late' || status === 'suspected';

function moveTo(node: KnownNode, status: NodeStatusName, at: string): KnownNode {
  const availability = isUp(status) === isUp(node.status) ? node.availability : trimAvailability([...node.availability, { at, up: isUp(status) }], at);
  return { ...node, status, statusSince: at, availability, ...(status === 'suspected' ? {} : { suspectedAt: undefined }) };
}

export function evolveNode(state: NodeState, event: NodeEvent): NodeState {
  if (event.type === NodeJoined.type) {
    const { data } = event;
    return {
      status: 'alive',
      nodeId: data.nodeId,
      publicKey: data.publicKey,
      network: data.network,
      maxTier: data.maxTier,
      requestedTier: data.requestedTier,
      tier: data.tier,
      capabilities: data.capabilities,
      ...(data.gossipAddress ? { gossipAddress: data.gossipAddress } : {}),
      trust: data.trust,
      joinedAt: data.at,
      statusSince: data.at,
      ...(data.signedAt ? { lastSignedAt: data.signedAt } : {}),
      availability: [{ at: data.at, up: true }],
    };
  }
  if (state.status === 'unknown') return state;
  const signedAt = (event.data as { signedAt?: string }).signedAt;
  return signedAt ? { ...evolveKnown(state, event), lastSignedAt: signedAt } : evolveKnown(state, event);
}

function evolveKnown(state: KnownNode, event: Exclude<NodeEvent, { type: typeof NodeJoined.type }>): KnownNode {
  switch (event.type) {
    case NodeCapabilitiesUpdated.type:
      return { ...state, capabilities: event.data.capabilities, gossipAddress: event.data.gossipAddress ?? state.gossipAddress };
    case NodeHeartbeatMissed.type:
      return moveTo(state, 'late', event.data.at);
    case NodeSuspected.type:
      return { ...moveTo(state, 'suspected', event.data.at), suspectedAt: event.data.at };
    case NodeDeclaredDown.type:
      return moveTo(state, 'down', event.data.at);
    case NodeRecovered.type:
      return moveTo(state, 'alive', event.data.at);
    case NodeLeft.type:
      return moveTo(state, 'left', event.data.at);
    case NodePromoted.type:
    case NodeDemoted.type:
      return { ...state, tier: event.data.to };
    case NodeTrustChanged.type:
      return { ...state, trust: event.data.to };
    default: {
      const unhandled: never = event;
      return unhandled;
    }
  }
}
