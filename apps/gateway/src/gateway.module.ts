import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccountController } from './account/account.controller.js';
import { AppsController } from './apps/apps.controller.js';
import { SeedsAppsController } from './apps/seeds-api.controller.js';
import { EventHub } from './events/event-hub.js';
import { EventsController } from './events/events.controller.js';
import { WsEvents } from './events/ws-events.js';
import { ReadinessController } from './health/readiness.controller.js';
import { Ingress } from './ingress/ingress.provider.js';
import { ApiKeyGuard } from './keys/api-key.guard.js';
import { ApiKeys } from './keys/api-keys.js';
import { KeysHandlers } from './keys/keys.handlers.js';
import { NodesController } from './nodes/nodes.controller.js';
import { OperatorsHandlers } from './operators/operators.handlers.js';
import { AggregatesController } from './projections/aggregates.controller.js';
import { Projections } from './projections/projections.js';
import { Subscriptions } from './subscriptions/subscriptions.js';
import { SubscriptionsController } from './subscriptions/subscriptions.controller.js';
import { WebhookDeliveries } from './subscriptions/webhook-deliveries.js';

/** The REST API: nodes, apps, accounts, and the grid's events for third parties. */
@Module({
  controllers: [NodesController, AccountController, AppsController, SeedsAppsController, EventsController, SubscriptionsController, OperatorsHandlers, AggregatesController, ReadinessController, KeysHandlers],
  // Every route, this module's and those it gains later, is closed unless it says otherwise.
  providers: [ApiKeys, { provide: APP_GUARD, useClass: ApiKeyGuard }, Ingress, EventHub, WsEvents, Subscriptions, WebhookDeliveries, Projections],
})
export class GatewayModule {}
