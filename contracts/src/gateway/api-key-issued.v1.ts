import { ArrayMaxSize, IsArray, IsIn, IsISO8601, IsOptional, IsString, Length, Matches } from 'class-validator';
import { defineEvent } from '../registry.js';

/** What an API key may do. `admin` may do everything. */
export const API_KEY_SCOPES = ['admin', 'nodes:read', 'events:read', 'apps:write'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export class ApiKeyIssuedV1 {
  @Matches(/^[0-9a-f]{16}$/)
  keyId!: string;

  @IsString()
  @Length(1, 100)
  name!: string;

  @IsOptional()
  @IsString()
  @Length(1, 100)
  tenant?: string;

  @IsArray()
  @ArrayMaxSize(API_KEY_SCOPES.length)
  @IsIn(API_KEY_SCOPES, { each: true })
  scopes!: ApiKeyScope[];

  /** SHA-256 of the key's secret, hex: the secret itself is never stored. */
  @Matches(/^[0-9a-f]{64}$/)
  secretHash!: string;

  @IsISO8601()
  at!: string;
}

export const ApiKeyIssued = defineEvent({
  service: 'gateway',
  aggregate: 'api-key',
  name: 'api-key-issued',
  version: 1,
  payload: ApiKeyIssuedV1,
  description: 'An API key was issued; the event holds a hash of its secret, never the secret.',
});
