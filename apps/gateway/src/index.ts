export { GatewayModule } from './gateway.module.js';
export { describeApi, gatewayService } from './gateway.service.js';
export * from './ingress/index.js';
