import { IsNumber, IsString, Length, Matches, Max, Min } from 'class-validator';
import { defineCommand } from '../registry.js';
import { NODE_ID } from './shared.js';

export class SetNodeTrustV1 {
  @Matches(NODE_ID, { message: 'nodeId must be 20 hex characters' })
  nodeId!: string;

  @IsNumber()
  @Min(0)
  @Max(1)
  trust!: number;

  @IsString()
  @Length(1, 500)
  reason!: string;
}

export const SetNodeTrust = defineCommand<SetNodeTrustV1, { trust: number }>({
  service: 'spores',
  name: 'nodes.set-trust',
  payload: SetNodeTrustV1,
  description: 'Sets a node’s trust score (0–1) with a reason: for operators and the consensus service.',
});
