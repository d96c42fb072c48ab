import { Matches } from 'class-validator';
import { defineCommand } from '../registry.js';
import { NODE_ID } from '../spores/shared.js';

export class GetTrustV1 {
  @Matches(NODE_ID, { message: 'nodeId must be 20 hex characters' })
  nodeId!: string;
}

export interface TrustView {
  nodeId: string;
  trust: number;
  /** Listed in MYCELIUM_GENESIS_NODES: started trusted. */
  genesis: boolean;
  /** Below the exclusion threshold: not invited to rounds. */
  excluded: boolean;
  /** Trust changes so far. */
  changes: number;
}

export const GetTrust = defineCommand<GetTrustV1, TrustView>({
  service: 'consensus',
  name: 'trust.get',
  payload: GetTrustV1,
  description: 'A node’s consensus trust (the start value when no round has moved it yet) and whether it is excluded from rounds.',
});
