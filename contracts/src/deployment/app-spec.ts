import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { NODE_TIERS, type NodeTierName } from '../spores/shared.js';
import { LB_STRATEGIES, type LoadBalancingStrategy } from './list-routes.command.js';

/** An app's name: a DNS label, since `<name>.<tenant>.localhost` reaches it. */
export const APP_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Names the runtime sets itself: an app may not override them. */
export const RESERVED_ENV = /^(PORT|MYCELIUM_.*)$/;
export const MAX_REPLICAS = 100;

/** What runs: a command for the process runtime, or an image for a container runtime. */
export class WorkloadV1 {
  /** argv: the first element is the program, run without a shell. */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(64)
  @IsString({ each: true })
  @Length(1, 4096, { each: true })
  command?: string[];

  /** A container image. Refused until a node offers a container runtime. */
  @IsOptional()
  @IsString()
  @Length(1, 500)
  image?: string;
}

export class ResourcesV1 {
  /** Cores; fractions allowed. */
  @IsNumber({ maxDecimalPlaces: 3 })
  @Min(0.01)
  @Max(256)
  cpu!: number;

  @IsInt()
  @Min(16)
  @Max(1_048_576)
  memoryMiB!: number;

  @IsInt()
  @Min(0)
  @Max(65_536)
  storageGiB!: number;
}

export class PortV1 {
  @IsString()
  @Matches(/^[a-z][a-z0-9-]{0,14}$/)
  name!: string;

  /** Only http ports are routed by the ingress today. */
  @IsIn(['http', 'tcp'])
  protocol!: 'http' | 'tcp';
}

export class EnvVarV1 {
  @Matches(ENV_NAME, { message: 'env names must be letters, digits and underscores, not starting with a digit' })
  name!: string;

  @IsString()
  @Length(0, 32_768)
  value!: string;

  /** Kept encrypted in the log; shown to nobody. */
  @IsOptional()
  @IsBoolean()
  secret?: boolean;
}

export class HealthCheckV1 {
  @IsString()
  @Matches(/^\/[^\s?#]{0,499}$/, { message: 'health.path must start with / and hold no spaces, query or fragment' })
  path!: string;

  @IsInt()
  @Min(100)
  @Max(300_000)
  intervalMs!: number;

  @IsInt()
  @Min(50)
  @Max(60_000)
  timeoutMs!: number;

  @IsInt()
  @Min(1)
  @Max(100)
  failureThreshold!: number;

  /** How long a new replica may take to pass its first check before the rollout fails. */
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  startTimeoutMs!: number;
}

export class PlacementV1 {
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  regions?: string[];

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(NODE_TIERS.length)
  @IsIn(NODE_TIERS, { each: true })
  tiers?: NodeTierName[];

  /** Percent of the last 24 h; the grid never places on a node at or below 95. */
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(100)
  minUptime?: number;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(32)
  @IsString({ each: true })
  tags?: string[];
}

/** An app as its owner describes it (`myc deploy -f app.json`, `POST /v1/apps`). */
export class AppSpecV1 {
  @Matches(APP_NAME, { message: 'name must be lower-case letters, digits and inner dashes (a DNS label of at most 40 characters)' })
  name!: string;

  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, { message: 'version must be 1-64 letters, digits, dots, dashes, pluses or underscores' })
  version!: string;

  @IsInt()
  @Min(1)
  @Max(MAX_REPLICAS)
  replicas!: number;

  @ValidateNested()
  @Type(() => WorkloadV1)
  workload!: WorkloadV1;

  @ValidateNested()
  @Type(() => ResourcesV1)
  resources!: ResourcesV1;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(16)
  @ValidateNested({ each: true })
  @Type(() => PortV1)
  ports?: PortV1[];

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(200)
  @ValidateNested({ each: true })
  @Type(() => EnvVarV1)
  env?: EnvVarV1[];

  @IsOptional()
  @ValidateNested()
  @Type(() => HealthCheckV1)
  health?: HealthCheckV1;

  @IsOptional()
  @ValidateNested()
  @Type(() => PlacementV1)
  placement?: PlacementV1;

  @IsOptional()
  @IsIn(LB_STRATEGIES)
  strategy?: LoadBalancingStrategy;

  /** Wait after SIGTERM before SIGKILL when a replica stops. */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(300_000)
  stopGraceMs?: number;
}

export const DEFAULT_HEALTH: HealthCheckV1 = { path: '/healthz', intervalMs: 1000, timeoutMs: 1000, failureThreshold: 3, startTimeoutMs: 30_000 };
export const DEFAULT_STOP_GRACE_MS = 10_000;

/** An environment variable as the log keeps it: a secret only as ciphertext. */
export class StoredEnvVarV1 {
  @Matches(ENV_NAME)
  name!: string;

  @IsOptional()
  @IsString()
  value?: string;

  /** AES-256-GCM, base64url `iv.tag.ciphertext`, under the deployment service's secrets key. */
  @IsOptional()
  @IsString()
  sealed?: string;
}

/** The spec as events hold it: defaults filled in, secrets sealed. */
export class StoredAppSpecV1 {
  @Matches(APP_NAME)
  name!: string;

  @IsString()
  version!: string;

  @IsInt()
  @Min(0)
  replicas!: number;

  @ValidateNested()
  @Type(() => WorkloadV1)
  workload!: WorkloadV1;

  @ValidateNested()
  @Type(() => ResourcesV1)
  resources!: ResourcesV1;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PortV1)
  ports!: PortV1[];

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => StoredEnvVarV1)
  env!: StoredEnvVarV1[];

  @ValidateNested()
  @Type(() => HealthCheckV1)
  health!: HealthCheckV1;

  @ValidateNested()
  @Type(() => PlacementV1)
  placement!: PlacementV1;

  @IsIn(LB_STRATEGIES)
  strategy!: LoadBalancingStrategy;

  @IsInt()
  @Min(0)
  stopGraceMs!: number;
}
