import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, Length } from 'class-validator';
import { defineCommand } from '../registry.js';
import { API_KEY_SCOPES, type ApiKeyScope } from './api-key-issued.v1.js';

export class IssueApiKeyV1 {
  @IsString()
  @Length(1, 100)
  name!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(API_KEY_SCOPES.length)
  @IsIn(API_KEY_SCOPES, { each: true })
  scopes!: ApiKeyScope[];

  @IsOptional()
  @IsString()
  @Length(1, 100)
  tenant?: string;
}

export const IssueApiKey = defineCommand<IssueApiKeyV1, { keyId: string; key: string }>({
  service: 'gateway',
  name: 'keys.issue',
  payload: IssueApiKeyV1,
  description: 'Issues an API key for the REST API. Answers `{ keyId, key }`; the key is shown this once.',
});
