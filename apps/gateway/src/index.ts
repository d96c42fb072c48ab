export { GatewayModule } from './gateway.module.js';
export { describeApi, gatewayService } from './gateway.service.js';
export * from './ingress/index.js';
export { aggregatesProjection, eventTypesProjection, GATEWAY_PROJECTIONS, type GatewayProjection } from './projections/definitions.js';
