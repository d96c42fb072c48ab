export { currentMessageContext, type MessageContext, withMessageContext } from './context.js';
export { createLogger, type Logger, type LoggerConfig, NestPinoLogger, setTraceIdSource } from './logger.js';
export { exposition, ProcessMetrics, type RelayMetrics, ServiceMetrics } from './metrics.js';
export { startTracing, type TracingOptions } from './tracing.js';
