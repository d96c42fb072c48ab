import type { LoggerService } from '@nestjs/common';
import { pino, type Logger, type LoggerOptions } from 'pino';
import { currentMessageContext } from './context.js';

export type { Logger } from 'pino';

export interface LoggerConfig {
  /** Process or service name, on every line. */
  name: string;
  /** pino level; default LOG_LEVEL or `info`. */
  level?: string;
  /** Where lines go; default stdout. */
  destination?: NodeJS.WritableStream;
}

type TraceIds = { traceId: string; spanId: string } | undefined;
let traceIdsOfActiveSpan: () => TraceIds = () => undefined;

/**
 * Where log lines find the trace they belong to. Tracing sets it when it starts, so a process
 * without tracing (a node agent) does not load OpenTelemetry to log.
 */
export function setTraceIdSource(source: () => TraceIds): void {
  traceIdsOfActiveSpan = source;
}

/**
 * JSON lines with the correlation id, causation id and trace id of the message being handled,
 * whichever code writes them.
 */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    name: config.name,
    level: config.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const context = currentMessageContext();
      const span = traceIdsOfActiveSpan();
      return {
        ...(context?.correlationId ? { correlationId: context.correlationId } : {}),
        ...(context?.causationId ? { causationId: context.causationId } : {}),
        ...(context?.tenant ? { tenant: context.tenant } : {}),
        ...(span ? { traceId: span.traceId, spanId: span.spanId } : {}),
      };
    },
  };
  return config.destination ? pino(options, config.destination as pino.DestinationStream) : pino(options);
}

/** Nest's logger interface over pino, so framework messages are structured too. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.#write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.#write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.#write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.#write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.#write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.#write('fatal', message, rest);
  }

  #write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, rest: unknown[]): void {
    // Nest passes the context (class name) last, and a stack before it for errors.
    const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : undefined;
    const stack = level === 'error' && typeof rest[0] === 'string' && rest.length > 1 ? rest[0] : undefined;
    const fields = { ...(context ? { context } : {}), ...(stack ? { stack } : {}) };
    if (message instanceof Error) this.logger[level]({ ...fields, err: message }, message.message);
    else if (typeof message === 'object' && message !== null) this.logger[level]({ ...fields, ...message });
    else this.logger[level](fields, String(message));
  }
}
