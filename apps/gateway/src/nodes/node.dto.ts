import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { NODE_STATUSES, NODE_TIERS, type NodeView } from '@mycelium/contracts';

/** OpenAPI descriptions of what /v1/nodes answers (the shape is spores' NodeView). */
class ResourcesDto {
  @ApiProperty() cpuCores!: number;
  @ApiProperty() memoryMiB!: number;
  @ApiProperty() diskGiB!: number;
}

class CapabilitiesDto extends ResourcesDto {
  @ApiProperty() agentVersion!: string;
}

class UptimeDto {
  @ApiProperty({ description: 'percent of the last 24 hours the node was up' }) last24h!: number;
  @ApiProperty({ description: 'percent of the last 30 days the node was up' }) last30d!: number;
}

export class NodeDto implements NodeView {
  @ApiProperty({ example: '3d8ac47b23d5cd0ca41b', description: 'first 80 bits of the SHA-256 of the node’s public key' }) nodeId!: string;
  @ApiProperty({ enum: NODE_TIERS }) tier!: NodeView['tier'];
  @ApiPropertyOptional({ enum: ['dedicated', 'dynamic'], description: 'for sclerotia: dedicated (tagged so, 99.9% up over 30 days) or dynamic' }) sclerotium?: 'dedicated' | 'dynamic';
  @ApiProperty({ enum: NODE_STATUSES }) status!: NodeView['status'];
  @ApiProperty() region!: string;
  @ApiProperty({ type: [String] }) tags!: string[];
  @ApiProperty({ type: CapabilitiesDto }) capabilities!: CapabilitiesDto;
  @ApiProperty({ type: ResourcesDto, description: 'what the node reported free in its last heartbeat' }) free!: ResourcesDto;
  @ApiProperty({ type: UptimeDto }) uptime!: UptimeDto;
  @ApiProperty({ minimum: 0, maximum: 1 }) trust!: number;
  @ApiProperty({ format: 'date-time' }) joinedAt!: string;
  @ApiPropertyOptional({ format: 'date-time' }) lastSeenAt?: string;
  @ApiPropertyOptional() gossipAddress?: string;
  @ApiProperty({ description: 'Ed25519, raw, base64url' }) publicKey!: string;
}

export class NodeListDto {
  @ApiProperty({ type: [NodeDto] }) nodes!: NodeDto[];
  @ApiProperty({ description: 'nodes matching, before the limit' }) total!: number;
}

export class NodeHistoryEntryDto {
  @ApiProperty() type!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty() position!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) data!: Record<string, unknown>;
}

export class NodeDetailDto {
  @ApiProperty({ type: NodeDto }) node!: NodeDto;
  @ApiPropertyOptional({ type: [NodeHistoryEntryDto], description: 'the newest events, oldest first' }) history?: NodeHistoryEntryDto[];
  @ApiPropertyOptional({ description: 'how many events the node has in all' }) historyTotal?: number;
  @ApiPropertyOptional({ description: 'older events were left out: ask for more with historyLimit' }) historyTruncated?: boolean;
}

export class ErrorDto {
  @ApiProperty({ example: { code: 'VALIDATION_FAILED', message: 'minUptime must not be greater than 100', field: 'minUptime' } })
  error!: { code: string; message: string; field?: string };
}
