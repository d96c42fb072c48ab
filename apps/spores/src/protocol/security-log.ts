import { Inject, Injectable, Optional } from '@nestjs/common';
import { SecurityViolationRecorded, type SecurityViolationCode } from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';

export interface Violation {
  /** The sender, when its own subject or its signature proves it; otherwise the refusal is unattributed. */
  nodeId?: string;
  /** Who the message says it is from: recorded, never believed. */
  claimedNodeId?: string;
  subject: string;
  code: SecurityViolationCode;
  reason: string;
}

const WINDOW_MS = 60_000;

export interface SecurityLogLimits {
  /** Senders tracked at once; past it, new senders share one allowance per code. */
  maxTracked: number;
}

export const SECURITY_LOG_LIMITS = Symbol('SECURITY_LOG_LIMITS');
const NODE_ID = /^[0-9a-f]{20}$/;

/**
 * Records refused messages as security events, at most one per sender and kind a minute: a node
 * flooding forged heartbeats must not flood the log. The ones held back are counted in the next.
 * A sender is only what can be proven (the subject, the signature); anything claimed but unproven
 * shares one allowance, or random claims would each get their own.
 */
@Injectable()
export class SecurityLog {
  readonly #recent = new Map<string, { until: number; suppressed: number }>();
  readonly #maxTracked: number;
  #prunedAt = 0;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    @Optional() @Inject(SECURITY_LOG_LIMITS) limits?: SecurityLogLimits,
  ) {
    this.#maxTracked = limits?.maxTracked ?? 10_000;
  }

  async record(violation: Violation, now = Date.now()): Promise<void> {
    const sender = violation.nodeId && NODE_ID.test(violation.nodeId) ? violation.nodeId : 'unattributed';
    const key = this.#allowanceKey(`${sender}:${violation.code}`, violation.code, now);
    const recent = this.#recent.get(key);
    if (recent && recent.until > now) {
      recent.suppressed += 1;
      return;
    }
    this.#recent.set(key, { until: now + WINDOW_MS, suppressed: 0 });
    const claimedNodeId = violation.claimedNodeId?.slice(0, 100);
    const reason = violation.reason.slice(0, 500);
    this.logger.warn({ nodeId: sender, claimedNodeId, subject: violation.subject.slice(0, 300), code: violation.code, reason }, 'refused a node message');
    await this.store
      .append(`spores/security/${sender}`, [
        {
          type: SecurityViolationRecorded.type,
          data: {
            ...(claimedNodeId ? { claimedNodeId } : {}),
            subject: violation.subject.slice(0, 300),
            code: violation.code,
            reason,
            suppressed: recent?.suppressed ?? 0,
            at: new Date(now).toISOString(),
          },
        },
      ])
      .catch((error: unknown) => this.logger.error({ err: error }, 'could not record a security event'));
  }

  #allowanceKey(key: string, code: SecurityViolationCode, now: number): string {
    if (this.#recent.has(key) || this.#recent.size < this.#maxTracked) return key;
    // At most one sweep a second, so a flood of new senders costs no full scan each.
    if (now - this.#prunedAt >= 1000) {
      this.#prunedAt = now;
      for (const [tracked, allowance] of this.#recent) if (allowance.until <= now) this.#recent.delete(tracked);
    }
    return this.#recent.size < this.#maxTracked ? key : `overflow:${code}`;
  }

  /** Senders currently tracked (for tests and metrics). */
  get tracked(): number {
    return this.#recent.size;
  }
}
