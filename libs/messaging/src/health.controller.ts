import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventStore } from '@mycelium/eventstore';
import { exposition, type ProcessMetrics, type ServiceMetrics } from '@mycelium/telemetry';
import { natsLinkState } from './connect.js';
import type { Relay } from './relay.js';
import { EVENT_STORE, NATS_CONNECTION, PROCESS_METRICS, SERVICE_INFO, SERVICE_METRICS } from './tokens.js';

export interface ServiceInfo {
  service: string;
  instanceId: string;
  version: string;
  startedAt: Date;
  relay?: Relay;
}

interface Reply {
  status(code: number): Reply;
  json(body: unknown): void;
}

/** `/healthz` for orchestrators and people, `/metrics` for Prometheus. */
@Controller()
export class HealthController {
  constructor(
    @Inject(SERVICE_INFO) private readonly info: ServiceInfo,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_METRICS) private readonly metrics: ServiceMetrics,
    @Inject(PROCESS_METRICS) private readonly processMetrics: ProcessMetrics,
  ) {}

  @Get('healthz')
  async health(@Res() reply: Reply): Promise<void> {
    const nats = natsLinkState(this.nc);
    const eventStore = await withTimeout(this.store.query('SELECT 1'), 2000).then(
      () => 'ok',
      (error: unknown) => `unavailable: ${(error as Error).message}`,
    );
    const healthy = nats === 'connected' && eventStore === 'ok';
    reply.status(healthy ? 200 : 503).json({
      status: healthy ? 'ok' : 'degraded',
      service: this.info.service,
      instanceId: this.info.instanceId,
      pid: process.pid,
      version: this.info.version,
      uptimeSeconds: Math.round((Date.now() - this.info.startedAt.getTime()) / 1000),
      checks: { nats, eventStore, relay: this.info.relay?.state ?? 'off' },
    });
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async prometheus(): Promise<string> {
    return exposition(this.metrics.registry, this.processMetrics.registry);
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    work.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
