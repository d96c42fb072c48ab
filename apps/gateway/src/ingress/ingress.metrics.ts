import { Counter, Histogram, type Metric, Registry } from 'prom-client';

/** The app label of requests that matched no app: unknown names must not each become a series. */
export const NO_APP = '(none)';

/**
 * The ingress' Prometheus metrics. The gateway registers them in its service registry, so its
 * /metrics shows them; labelled children are kept, since looking one up costs more than counting.
 */
export class IngressMetrics {
  readonly requests: Counter<'app' | 'status'>;
  readonly upstreamDuration: Histogram<'app'>;
  readonly retries: Counter<'app'>;
  readonly breakersOpened: Counter<'app'>;
  readonly #requestChildren = new Map<string, Map<number, { inc(): void }>>();
  readonly #durationChildren = new Map<string, { observe(value: number): void }>();

  constructor(readonly registry: Registry = new Registry()) {
    const once = <M extends Metric>(name: string, create: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? create();
    const registers = [registry];
    this.requests = once(
      'mycelium_ingress_requests_total',
      () => new Counter({ name: 'mycelium_ingress_requests_total', help: 'Requests the ingress answered, by app (<tenant>/<name>) and HTTP status.', labelNames: ['app', 'status'], registers }),
    );
    this.upstreamDuration = once(
      'mycelium_ingress_upstream_duration_seconds',
      () =>
        new Histogram({
          name: 'mycelium_ingress_upstream_duration_seconds',
          help: 'Time from sending a request to a replica to its response headers, by app.',
          labelNames: ['app'],
          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers,
        }),
    );
    this.retries = once(
      'mycelium_ingress_retries_total',
      () => new Counter({ name: 'mycelium_ingress_retries_total', help: 'Idempotent requests sent again to another replica after the first failed.', labelNames: ['app'], registers }),
    );
    this.breakersOpened = once(
      'mycelium_ingress_breakers_opened_total',
      () => new Counter({ name: 'mycelium_ingress_breakers_opened_total', help: 'Times a replica’s circuit breaker opened, by app.', labelNames: ['app'], registers }),
    );
  }

  answered(app: string, status: number): void {
    let byStatus = this.#requestChildren.get(app);
    if (!byStatus) this.#requestChildren.set(app, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (!child) byStatus.set(status, (child = this.requests.labels({ app, status: String(status) })));
    child.inc();
  }

  upstreamAnswered(app: string, seconds: number): void {
    let child = this.#durationChildren.get(app);
    if (!child) this.#durationChildren.set(app, (child = this.upstreamDuration.labels({ app })));
    child.observe(seconds);
  }
}
