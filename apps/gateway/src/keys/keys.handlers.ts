import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type ApiKeyView, IssueApiKey, type IssueApiKeyV1, ListApiKeys, type ListApiKeysV1, RevokeApiKey, type RevokeApiKeyV1 } from '@mycelium/contracts';
import { OnCommand } from '@mycelium/messaging';
import { ApiKeys } from './api-keys.js';

/** Keys are issued over NATS, where only the operator's credentials reach: never over HTTP. */
@Controller()
export class KeysHandlers {
  constructor(private readonly keys: ApiKeys) {}

  @OnCommand(IssueApiKey)
  async issue(@Payload() request: IssueApiKeyV1): Promise<{ keyId: string; key: string }> {
    return this.keys.issue(request);
  }

  @OnCommand(RevokeApiKey)
  async revoke(@Payload() request: RevokeApiKeyV1): Promise<{ keyId: string; revoked: boolean }> {
    return { keyId: request.keyId, revoked: await this.keys.revoke(request.keyId, request.reason) };
  }

  @OnCommand(ListApiKeys)
  async list(@Payload() request: ListApiKeysV1): Promise<{ keys: ApiKeyView[] }> {
    await this.keys.ready;
    return { keys: this.keys.list(request.tenant) };
  }
}
