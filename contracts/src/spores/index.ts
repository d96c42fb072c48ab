export * from './shared.js';
export * from './node-joined.v1.js';
export * from './node-capabilities-updated.v1.js';
export * from './node-heartbeat-missed.v1.js';
export * from './node-suspected.v1.js';
export * from './node-declared-down.v1.js';
export * from './node-recovered.v1.js';
export * from './node-left.v1.js';
export * from './node-promoted.v1.js';
export * from './node-demoted.v1.js';
export * from './node-trust-changed.v1.js';
export * from './security-violation-recorded.v1.js';
export * from './query-nodes.command.js';
export * from './list-node-ids.command.js';
export * from './network-change.v1.js';
export * from './get-node.command.js';
export * from './set-node-trust.command.js';
export * from './agent-protocol.v1.js';
export * from './seed-snapshot.v1.js';

import { GetNode } from './get-node.command.js';
import { NodeCapabilitiesUpdated } from './node-capabilities-updated.v1.js';
import { NodeDeclaredDown } from './node-declared-down.v1.js';
import { NodeDemoted } from './node-demoted.v1.js';
import { NodeHeartbeatMissed } from './node-heartbeat-missed.v1.js';
import { NodeJoined } from './node-joined.v1.js';
import { NodeLeft } from './node-left.v1.js';
import { NodePromoted } from './node-promoted.v1.js';
import { NodeRecovered } from './node-recovered.v1.js';
import { NodeSuspected } from './node-suspected.v1.js';
import { NodeTrustChanged } from './node-trust-changed.v1.js';
import { ListNodeIds } from './list-node-ids.command.js';
import { GetNetwork, NetworkChangeApproved, NetworkChangeProposed, NetworkChangeRejected, ProposeNetworkChange } from './network-change.v1.js';
import { QueryNodes } from './query-nodes.command.js';
import { SecurityViolationRecorded } from './security-violation-recorded.v1.js';
import { SetNodeTrust } from './set-node-trust.command.js';
import { stateAtOf } from '../platform/state-at.command.js';

/** Every contract of the spores service. */
export const sporesContracts = [
  stateAtOf.spores,
  NodeJoined,
  NodeCapabilitiesUpdated,
  NodeHeartbeatMissed,
  NodeSuspected,
  NodeDeclaredDown,
  NodeRecovered,
  NodeLeft,
  NodePromoted,
  NodeDemoted,
  NodeTrustChanged,
  SecurityViolationRecorded,
  QueryNodes,
  ListNodeIds,
  GetNode,
  SetNodeTrust,
  NetworkChangeProposed,
  NetworkChangeApproved,
  NetworkChangeRejected,
  ProposeNetworkChange,
  GetNetwork,
];
