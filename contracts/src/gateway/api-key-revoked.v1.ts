import { IsISO8601, IsOptional, IsString, Length, Matches } from 'class-validator';
import { defineCommand, defineEvent } from '../registry.js';
import { IsTenant } from '../tenancy.js';
import type { ApiKeyScope } from './api-key-issued.v1.js';

export class ApiKeyRevokedV1 {
  @Matches(/^[0-9a-f]{16}$/)
  keyId!: string;

  @IsString()
  @Length(1, 500)
  reason!: string;

  @IsISO8601()
  at!: string;
}

export const ApiKeyRevoked = defineEvent({
  service: 'gateway',
  aggregate: 'api-key',
  name: 'api-key-revoked',
  version: 1,
  payload: ApiKeyRevokedV1,
  description: 'An API key was revoked: requests with it are refused from now on.',
});

export class RevokeApiKeyV1 {
  @Matches(/^[0-9a-f]{16}$/, { message: 'keyId must be the 16 hex characters after myc_' })
  keyId!: string;

  @IsString()
  @Length(1, 500)
  reason!: string;
}

export const RevokeApiKey = defineCommand<RevokeApiKeyV1, { keyId: string; revoked: boolean }>({
  service: 'gateway',
  name: 'keys.revoke',
  payload: RevokeApiKeyV1,
  description: 'Revokes an API key; `revoked` is false when it was revoked already.',
});

export class ListApiKeysV1 {
  /** Only this tenant's keys. */
  @IsOptional()
  @IsTenant()
  tenant?: string;
}

export interface ApiKeyView {
  keyId: string;
  name: string;
  tenant?: string;
  scopes: ApiKeyScope[];
  issuedAt: string;
  revokedAt?: string;
}

export const ListApiKeys = defineCommand<ListApiKeysV1, { keys: ApiKeyView[] }>({
  service: 'gateway',
  name: 'keys.list',
  payload: ListApiKeysV1,
  description: 'Every API key issued (never its secret), with its tenant, scopes and whether it was revoked.',
});
