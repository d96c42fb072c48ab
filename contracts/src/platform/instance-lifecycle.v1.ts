import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Matches, Min } from 'class-validator';
import { defineEvent, type EventDefinition } from '../registry.js';

/** A process of a service came up. Operators replaying an incident see restarts in the timeline. */
export class InstanceStartedV1 {
  @IsString()
  @Length(1, 100)
  instanceId!: string;

  @Matches(/^[a-z][a-z0-9-]*$/)
  service!: string;

  /** Release of the service code. */
  @IsString()
  @Length(1, 64)
  version!: string;

  @IsString()
  @Length(1, 255)
  host!: string;

  @IsInt()
  @Min(1)
  pid!: number;

  @IsISO8601()
  startedAt!: string;
}

export const INSTANCE_STOP_REASONS = ['shutdown', 'signal', 'error'] as const;

/** A process of a service stopped on purpose (a crash leaves no event; spores notice the silence). */
export class InstanceStoppedV1 {
  @IsString()
  @Length(1, 100)
  instanceId!: string;

  @IsIn(INSTANCE_STOP_REASONS)
  reason!: (typeof INSTANCE_STOP_REASONS)[number];

  @IsOptional()
  @IsString()
  @Length(0, 500)
  detail?: string;

  @IsInt()
  @Min(0)
  uptimeSeconds!: number;
}

export interface InstanceLifecycleContracts {
  started: EventDefinition<InstanceStartedV1>;
  stopped: EventDefinition<InstanceStoppedV1>;
}

/** Every service records its own instances in `<service>/instance/<instanceId>`. */
export function instanceLifecycle(service: string): InstanceLifecycleContracts {
  return {
    started: defineEvent({
      service,
      aggregate: 'instance',
      name: 'instance-started',
      version: 1,
      payload: InstanceStartedV1,
      description: `An instance of the ${service} service started.`,
    }),
    stopped: defineEvent({
      service,
      aggregate: 'instance',
      name: 'instance-stopped',
      version: 1,
      payload: InstanceStoppedV1,
      description: `An instance of the ${service} service stopped cleanly.`,
    }),
  };
}
