import type { NodeCapabilitiesV1, NodeTierName, NodeUsageV1 } from '@mycelium/contracts';
import { newNonce, sealEnvelope, type SignedEnvelope } from '@mycelium/identity';
import type { NodeIdentity } from './node-identity.js';

/** The signed messages of the node protocol (see contracts: agent-protocol.v1). */
export function joinMessage(
  node: NodeIdentity,
  options: {
    network: string;
    token?: string;
    requestedTier: NodeTierName;
    capabilities: NodeCapabilitiesV1;
    gossipAddress?: string;
    withNatsKey?: boolean;
    now?: number;
  },
): SignedEnvelope {
  return sealEnvelope(
    node.signer,
    {
      kind: 'join',
      nodeId: node.nodeId,
      network: options.network,
      ts: options.now ?? Date.now(),
      nonce: newNonce(),
      ...(options.token ? { token: options.token } : {}),
      requestedTier: options.requestedTier,
      capabilities: options.capabilities,
      ...(options.withNatsKey ? { natsKey: node.nats.publicKey } : {}),
      ...(options.gossipAddress ? { gossipAddress: options.gossipAddress } : {}),
    },
    { includeKey: true },
  );
}

export function heartbeatMessage(node: NodeIdentity, options: { network: string; seq: number; usage: NodeUsageV1; now?: number; nonce?: string }): SignedEnvelope {
  return sealEnvelope(node.signer, {
    kind: 'heartbeat',
    nodeId: node.nodeId,
    network: options.network,
    ts: options.now ?? Date.now(),
    nonce: options.nonce ?? newNonce(),
    seq: options.seq,
    usage: options.usage,
  });
}

export function leaveMessage(node: NodeIdentity, options: { network: string; reason: string; now?: number }): SignedEnvelope {
  return sealEnvelope(node.signer, {
    kind: 'leave',
    nodeId: node.nodeId,
    network: options.network,
    ts: options.now ?? Date.now(),
    nonce: newNonce(),
    reason: options.reason,
  });
}
