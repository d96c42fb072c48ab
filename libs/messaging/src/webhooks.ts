import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Mycelium-Signature';

/** `sha256=<hex HMAC-SHA256 of the body>`: what a receiver recomputes with the shared secret. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface DeliveryPolicy {
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
}

export type DeliveryResult = { ok: true; attempts: number; status: number } | { ok: false; attempts: number; status?: number; error: string };

/** A webhook request: its body, signed with the receiver's secret, and its own headers. */
export interface WebhookRequest {
  url: string;
  body: string;
  /** Headers besides the signature: the content type, an id receivers drop repeats by. */
  headers: Record<string, string>;
  secret: string;
}

/**
 * POSTs the signed body (`X-Mycelium-Signature: sha256=<HMAC>`) until the receiver answers 2xx,
 * with exponential backoff between attempts, and gives up after the last. Delivery is at least
 * once: the request's id header lets a receiver drop a repeat (after a failover, say).
 */
export async function deliverWebhook(request: WebhookRequest, policy: DeliveryPolicy, stopped: () => boolean = () => false): Promise<DeliveryResult> {
  const { url, body, secret } = request;
  let lastError = '';
  let lastStatus: number | undefined;
  let attempt = 1;
  for (; attempt <= policy.attempts; attempt += 1) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { ...request.headers, [SIGNATURE_HEADER]: signBody(body, secret) },
        body,
        signal: AbortSignal.timeout(policy.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { ok: true, attempts: attempt, status: response.status };
      lastStatus = response.status;
      lastError = `HTTP ${response.status}`;
    } catch (error) {
      lastStatus = undefined;
      lastError = error instanceof Error ? (error.name === 'TimeoutError' ? `no answer within ${policy.timeoutMs} ms` : error.message) : String(error);
    }
    if (attempt < policy.attempts) {
      if (stopped()) return { ok: false, attempts: attempt, error: 'delivery interrupted: the service is stopping' };
      await new Promise((resolve) => setTimeout(resolve, Math.min(policy.backoffMs * 2 ** (attempt - 1), policy.maxBackoffMs)));
    }
  }
  return { ok: false, attempts: policy.attempts, ...(lastStatus === undefined ? {} : { status: lastStatus }), error: lastError.slice(0, 1000) || 'no answer' };
}
