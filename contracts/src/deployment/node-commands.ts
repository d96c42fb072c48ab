import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { defineCommand } from '../registry.js';
import { NODE_ID } from '../spores/shared.js';
import { APP_ID } from './suspend-app.command.js';

/** Healing asks for this once a round among the node's peers confirmed it down. */
export class EvacuateNodeV1 {
  @Matches(NODE_ID, { message: 'nodeId must be 20 hex characters' })
  nodeId!: string;

  @IsString()
  @Length(1, 500)
  reason!: string;

  @IsOptional()
  @IsString()
  @Length(1, 200)
  incidentId?: string;
}

export const EvacuateNode = defineCommand<EvacuateNodeV1, { replicas: { appId: string; replicaId: string }[] }>({
  service: 'deployment',
  name: 'node.evacuate',
  payload: EvacuateNodeV1,
  description: 'Marks every live replica on the node failed, with the reason; the saga places replacements on healthy nodes. Idempotent: answers the replicas it marked now.',
});

/** Healing asks for this when a replica keeps crashing past the cap of restarts in place. */
export class RetireReplicaV1 {
  @Matches(APP_ID, { message: 'appId must look like app_<letters and digits>' })
  appId!: string;

  @IsString()
  @Length(1, 80)
  replicaId!: string;

  @IsString()
  @Length(1, 500)
  reason!: string;

  @IsOptional()
  @IsString()
  @Length(1, 200)
  incidentId?: string;
}

export const RetireReplica = defineCommand<RetireReplicaV1, { retired: boolean }>({
  service: 'deployment',
  name: 'replica.retire',
  payload: RetireReplicaV1,
  description: 'Stops a replica (it keeps crashing) and has the saga replace it. Idempotent: `retired` is false when it was no longer live.',
});
