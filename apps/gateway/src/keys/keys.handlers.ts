import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { IssueApiKey, type IssueApiKeyV1 } from '@mycelium/contracts';
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
}
