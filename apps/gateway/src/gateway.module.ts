import { Module } from '@nestjs/common';
import { ApiKeyGuard } from './keys/api-key.guard.js';
import { ApiKeys } from './keys/api-keys.js';
import { KeysHandlers } from './keys/keys.handlers.js';
import { NodesController } from './nodes/nodes.controller.js';

/** The REST API: nodes today; apps, accounts and events as the grid grows. */
@Module({
  controllers: [NodesController, KeysHandlers],
  providers: [ApiKeys, ApiKeyGuard],
})
export class GatewayModule {}
