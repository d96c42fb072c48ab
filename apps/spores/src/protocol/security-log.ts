import { Inject, Injectable } from '@nestjs/common';
import { SecurityViolationRecorded, type SecurityViolationCode } from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';

export interface Violation {
  claimedNodeId?: string;
  subject: string;
  code: SecurityViolationCode;
  reason: string;
}

const WINDOW_MS = 60_000;

/**
 * Records refused messages as security events, at most one per sender and kind a minute: a node
 * flooding forged heartbeats must not flood the log. The ones held back are counted in the next.
 */
@Injectable()
export class SecurityLog {
  readonly #recent = new Map<string, { until: number; suppressed: number }>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  async record(violation: Violation, now = Date.now()): Promise<void> {
    const key = `${violation.claimedNodeId ?? 'unknown'}:${violation.code}`;
    const recent = this.#recent.get(key);
    if (recent && recent.until > now) {
      recent.suppressed += 1;
      return;
    }
    this.#recent.set(key, { until: now + WINDOW_MS, suppressed: 0 });
    if (this.#recent.size > 10_000) for (const [k, v] of this.#recent) if (v.until <= now) this.#recent.delete(k);
    const stream = `spores/security/${violation.claimedNodeId && /^[0-9a-f]{20}$/.test(violation.claimedNodeId) ? violation.claimedNodeId : 'unknown'}`;
    this.logger.warn({ ...violation }, 'refused a node message');
    await this.store
      .append(stream, [
        {
          type: SecurityViolationRecorded.type,
          data: {
            ...(violation.claimedNodeId ? { claimedNodeId: violation.claimedNodeId.slice(0, 100) } : {}),
            subject: violation.subject.slice(0, 300),
            code: violation.code,
            reason: violation.reason.slice(0, 500),
            suppressed: recent?.suppressed ?? 0,
            at: new Date(now).toISOString(),
          },
        },
      ])
      .catch((error: unknown) => this.logger.error({ err: error }, 'could not record a security event'));
  }
}
