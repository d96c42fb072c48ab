import { type Context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { setTraceIdSource } from './logger.js';

/**
 * Keeps a tracer provider alive without exporting, so trace ids exist and travel in NATS headers
 * even where no collector is configured; a process that does export then joins the same traces.
 */
class KeepIdsProcessor implements SpanProcessor {
  onStart(_span: Span, _context: Context): void {}
  onEnd(_span: ReadableSpan): void {}
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

export interface TracingOptions {
  serviceName: string;
  serviceVersion?: string;
  /** Export spans here (tests use an in-memory exporter). Default: OTLP when configured by env. */
  exporter?: SpanExporter;
}

let running: NodeSDK | undefined;

/**
 * Starts OpenTelemetry for this process (once). Spans go to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_TRACES_EXPORTER is set, to `exporter` when given, and nowhere otherwise.
 */
export function startTracing(options: TracingOptions): () => Promise<void> {
  if (running) return async () => undefined;
  // Logs go through pino and metrics through Prometheus: keep the SDK from exporting them.
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  const fromEnv = Boolean(
    process.env.OTEL_TRACES_EXPORTER || process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
  );
  const spanProcessors = options.exporter
    ? [new SimpleSpanProcessor(options.exporter)]
    : fromEnv
      ? undefined
      : [new KeepIdsProcessor()];
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion ?? '0.1.0',
    }),
    spanProcessors,
    instrumentations: [],
  });
  sdk.start();
  running = sdk;
  setTraceIdSource(() => {
    const span = trace.getActiveSpan()?.spanContext();
    return span && span.traceId !== '00000000000000000000000000000000' ? { traceId: span.traceId, spanId: span.spanId } : undefined;
  });
  return async () => {
    if (running !== sdk) return;
    running = undefined;
    await sdk.shutdown();
  };
}
