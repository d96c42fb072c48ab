import { type Context, context, propagation, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import type { MsgHdrs } from '@nats-io/transport-node';

const setter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (carrier) => carrier?.keys() ?? [],
  get: (carrier, key) => {
    const value = carrier?.get(key);
    return value ? value : undefined;
  },
};

/** Writes the W3C trace context of `ctx` (default: the active one) into NATS headers. */
export function injectTraceHeaders(headers: MsgHdrs, ctx: Context = context.active()): MsgHdrs {
  propagation.inject(ctx, headers, setter);
  return headers;
}

/** The trace context a NATS message carries, as the parent for the span that handles it. */
export function extractTraceContext(headers: MsgHdrs | undefined): Context {
  return propagation.extract(context.active(), headers, getter);
}

/** The trace context recorded with an event (its `traceparent` metadata). */
export function traceContextOf(metadata: { traceparent?: unknown; tracestate?: unknown }): Context {
  const carrier: Record<string, string> = {};
  if (typeof metadata.traceparent === 'string') carrier.traceparent = metadata.traceparent;
  if (typeof metadata.tracestate === 'string') carrier.tracestate = metadata.tracestate;
  return propagation.extract(context.active(), carrier);
}
