/**
 * The node agent protocol's subjects and answers, without validation code, so a node agent can
 * speak it without loading the validators (see agent-protocol.v1.ts for the payload classes).
 *
 *   spores.agent.join          request   JoinRequestV1    (pub: the node's key)
 *   agent.<nodeId>.heartbeat   publish   HeartbeatV1
 *   agent.<nodeId>.leave       request   LeaveRequestV1
 *   agent.<nodeId>.notice      publish   AgentNotice      (from the spores service)
 */
export const AgentSubjects = {
  join: 'spores.agent.join',
  heartbeat: (nodeId: string) => `agent.${nodeId}.heartbeat`,
  leave: (nodeId: string) => `agent.${nodeId}.leave`,
  notice: (nodeId: string) => `agent.${nodeId}.notice`,
  /** What the spores service listens on, for all nodes. */
  allHeartbeats: 'agent.*.heartbeat',
  allLeaves: 'agent.*.leave',
} as const;

export type NodeTierLabel = 'sclerotia' | 'rhizomorph' | 'hyphae';

/** The spores service's answer to a join. */
export interface JoinAccepted {
  nodeId: string;
  tier: NodeTierLabel;
  status: string;
  heartbeatIntervalMs: number;
  /** NATS user JWT for the node's own key (secured networks). */
  natsJwt?: string;
  /** Peers the node may gossip with, from the registry (authority: primary). */
  peers: PeerRecord[];
  /**
   * The network's signed word that this node's key is a member (payload: kind 'membership',
   * network, nodeId, publicKey, issuedAt), which the node shows its gossip peers.
   */
  membership?: { payload: string; sig: string };
}

/** What the spores service tells a node on its notice subject, e.g. why a heartbeat was refused. */
export interface AgentNotice {
  code: string;
  message: string;
  /** What the agent should do about it. */
  action: 'rejoin' | 'check-clock' | 'none';
}

/** One node as a discovery tier knows it. */
export interface PeerRecord {
  nodeId: string;
  publicKey: string;
  address?: string;
  status: string;
  tier?: NodeTierLabel;
  /** Ordering within one authority: higher is newer. */
  version: number;
}

/** Longest gossip address a node may advertise. */
export const MAX_GOSSIP_ADDRESS_LENGTH = 200;

/**
 * Where peers reach a node for gossip: an http(s) URL without credentials, query or fragment. The
 * spores service refuses a join advertising anything else, and gossip drops it, by this one rule.
 */
export function isGossipAddress(address: unknown): address is string {
  if (typeof address !== 'string' || address.length > MAX_GOSSIP_ADDRESS_LENGTH) return false;
  try {
    const url = new URL(address);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && !/[?#\s]/.test(address);
  } catch {
    return false;
  }
}
