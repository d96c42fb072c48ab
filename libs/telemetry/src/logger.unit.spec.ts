import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { withMessageContext } from './context.js';
import { createLogger, NestPinoLogger, setTraceIdSource } from './logger.js';

function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { stream, lines };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('structured logs', () => {
  it('writes JSON lines with the correlation of the message being handled', async () => {
    const { stream, lines } = capture();
    const logger = createLogger({ name: 'billing', level: 'info', destination: stream });
    withMessageContext({ correlationId: 'corr-1', causationId: 'evt-9', tenant: 'acme' }, () => logger.info({ accountId: 'a1' }, 'charged'));
    logger.info('outside any message');
    await flush();
    expect(lines[0]).toMatchObject({ level: 'info', name: 'billing', msg: 'charged', accountId: 'a1', correlationId: 'corr-1', causationId: 'evt-9', tenant: 'acme' });
    expect(lines[1]).not.toHaveProperty('correlationId');
  });

  it('adds the trace ids of the active span once tracing provides them', async () => {
    const { stream, lines } = capture();
    const logger = createLogger({ name: 'tracer', destination: stream });
    setTraceIdSource(() => ({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }));
    try {
      logger.info('traced');
    } finally {
      setTraceIdSource(() => undefined);
    }
    logger.info('untraced');
    await flush();
    expect(lines[0]).toMatchObject({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) });
    expect(lines[1]).not.toHaveProperty('traceId');
  });

  it('keeps the context across awaits', async () => {
    const { stream, lines } = capture();
    const logger = createLogger({ name: 'spores', destination: stream });
    await withMessageContext({ correlationId: 'corr-2' }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      logger.warn('later');
    });
    await flush();
    expect(lines[0]).toMatchObject({ level: 'warn', correlationId: 'corr-2' });
  });

  it('gives Nest’s messages their context and errors their stack', async () => {
    const { stream, lines } = capture();
    const nest = new NestPinoLogger(createLogger({ name: 'nest', destination: stream }));
    nest.log('Mapped {/healthz, GET} route', 'RouterExplorer');
    nest.error(new Error('boom'), 'ExceptionsHandler');
    await flush();
    expect(lines[0]).toMatchObject({ level: 'info', context: 'RouterExplorer', msg: 'Mapped {/healthz, GET} route' });
    expect(lines[1]).toMatchObject({ level: 'error', context: 'ExceptionsHandler', msg: 'boom' });
    expect((lines[1]!.err as { stack: string }).stack).toContain('Error: boom');
  });
});
