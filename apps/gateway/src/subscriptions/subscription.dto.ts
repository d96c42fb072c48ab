import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, IsUrl, Length, Matches } from 'class-validator';
import { SUBSCRIPTION_MODES, type SubscriptionMode } from '@mycelium/contracts';

export class CreateSubscriptionDto {
  @ApiProperty({ example: 'https://hooks.example.com/mycelium', description: 'where each event is POSTed' })
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true }, { message: 'url must be an http(s) URL' })
  url!: string;

  @ApiPropertyOptional({ example: ['mycelium.deployment.'], description: 'event type prefixes; none: every type the key may see' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @Matches(/^[a-z0-9.-]{1,200}$/, { each: true, message: 'types must be event types or their prefixes, e.g. mycelium.deployment.' })
  types?: string[];

  @ApiPropertyOptional({ example: 'deployment/app/app_7e1a', description: 'a stream id prefix' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_./:-]{1,300}$/, { message: 'subject must be a stream id or its prefix' })
  subject?: string;

  @ApiPropertyOptional({ enum: SUBSCRIPTION_MODES, default: 'structured', description: 'CloudEvents HTTP binding: structured (the event as the body) or binary (ce-* headers)' })
  @IsOptional()
  @IsIn(SUBSCRIPTION_MODES)
  mode?: SubscriptionMode;

  @ApiPropertyOptional({ description: 'the HMAC-SHA256 signing secret (16 to 256 characters); one is made and shown once when absent' })
  @IsOptional()
  @IsString()
  @Length(16, 256)
  secret?: string;

  @ApiPropertyOptional({ example: '0', description: 'deliver the events after this log position too (default: from now on)' })
  @IsOptional()
  @Matches(/^[0-9]{1,30}$/, { message: 'after must be a log position' })
  after?: string;
}

export class SubscriptionDto {
  @ApiProperty({ example: 'sub_3f1c2a9b0d4e5f6a7b8c' }) subscriptionId!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ type: [String] }) types!: string[];
  @ApiPropertyOptional() subject?: string;
  @ApiProperty({ enum: SUBSCRIPTION_MODES }) mode!: SubscriptionMode;
  @ApiPropertyOptional({ description: 'whose events; absent: every event (an operator’s)' }) tenant?: string;
  @ApiProperty({ enum: ['active', 'disabled'] }) status!: string;
  @ApiProperty({ description: 'every matching event up to this log position has been delivered' }) deliveredUpTo!: string;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional({ description: 'only when the gateway made it: shown this once' }) secret?: string;
}
