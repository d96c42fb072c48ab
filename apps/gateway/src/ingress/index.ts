export { type BreakerOptions, type BreakerState, CircuitBreaker, DEFAULT_BREAKER } from './circuit-breaker.js';
export { DeploymentRouteSource, type DeploymentRouteSourceOptions } from './deployment-route-source.js';
export { IngressProxy, type IngressProxyOptions, resolveTarget } from './ingress-proxy.js';
export { IngressMetrics } from './ingress.metrics.js';
export { DEFAULT_INGRESS_PORT, Ingress, type IngressSettings, ingressSettings } from './ingress.provider.js';
export { type Picker, pickerFor, ReplicaState } from './load-balancer.js';
export { type RouteSource, StaticRouteSource } from './route-source.js';
export { type AppEntry, type ReplicaReport, RouteTable } from './route-table.js';
export { seededRandom } from './seeded-random.js';
