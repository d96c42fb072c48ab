import { IsOptional, IsString, Length } from 'class-validator';
import { defineCommand } from '../registry.js';

/** How the ingress spreads requests over an app's replicas (the seeds' load-balancing strategies). */
export const LB_STRATEGIES = ['round-robin', 'least-connections', 'weighted-round-robin', 'health-based', 'latency-based'] as const;
export type LoadBalancingStrategy = (typeof LB_STRATEGIES)[number];

export class ListRoutesV1 {
  /** Only this tenant's apps. */
  @IsOptional()
  @IsString()
  @Length(1, 100)
  tenant?: string;
}

/** One replica the ingress may send traffic to. */
export interface RouteReplica {
  replicaId: string;
  nodeId: string;
  /** host:port */
  address: string;
  /** For weighted round-robin; 1 unless the app says otherwise. */
  weight: number;
}

/** An app the ingress serves, with its healthy replicas only. */
export interface AppRoute {
  appId: string;
  tenant: string;
  /** The app's name: `<name>.<tenant>.localhost` and `/apps/<tenant>/<name>/` reach it. */
  name: string;
  strategy: LoadBalancingStrategy;
  replicas: RouteReplica[];
}

export const ListRoutes = defineCommand<ListRoutesV1, { routes: AppRoute[] }>({
  service: 'deployment',
  name: 'routes.list',
  payload: ListRoutesV1,
  description: 'What the ingress serves: every running app with its healthy replicas. Answers `{ routes }`.',
});
