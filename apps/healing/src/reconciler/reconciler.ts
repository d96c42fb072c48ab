import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { type CommandReply, EvacuateNode, OpenRound, RetireReplica, SetNodeTrust } from '@mycelium/contracts';
import type { EventStore, Lease } from '@mycelium/eventstore';
import { COMMAND_CLIENT, type CommandClient, deliverWebhook, EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import type { IncidentCommand } from '../domain/incident/incident.decider.js';
import type { IncidentState } from '../domain/incident/incident.js';
import { type IncidentStep, planIncident } from '../domain/incident/plan.js';
import type { PendingAlert, WebhookState } from '../domain/webhook/webhook.js';
import { HEALING_CONFIG, type HealingConfig } from '../healing.config.js';
import { Incidents } from '../incidents/incidents.js';

export const RECONCILER_LEASE = 'healing-reconciler';

/**
 * Carries out what open incidents still need (a round, an evacuation, a retirement, a
 * quarantine) and delivers pending alerts, in exactly one healing instance at a time: the holder
 * of a lease on the event store. Each step is planned from the incident's events; its result is
 * appended after the owning service answered, at the version planned from. A crash between the
 * two repeats the command on the next leader, which the deployment and spores commands absorb
 * (they are idempotent); a repeated round only costs a second round, whose outcome the incident
 * ignores once it has one (docs/adr/0018).
 */
@Injectable()
export class Reconciler implements OnApplicationBootstrap, OnModuleDestroy {
  #lease: Lease | undefined;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #leaseTimer: NodeJS.Timeout | undefined;
  readonly #busy = new Set<string>();
  readonly #delivered = new Set<string>();
  /** A step that failed for a passing reason is retried, not before this time. */
  readonly #notBefore = new Map<string, number>();
  #unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(COMMAND_CLIENT) private readonly client: CommandClient,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    @Inject(HEALING_CONFIG) private readonly config: HealingConfig,
    private readonly incidents: Incidents,
  ) {}

  get leading(): boolean {
    return this.#lease?.isHeld === true;
  }

  onApplicationBootstrap(): void {
    this.#unsubscribe = this.incidents.onChange(() => this.#reconcile());
    void this.#tryLead();
    this.#tick();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#leaseTimer);
    this.#unsubscribe?.();
    while (this.#busy.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.#lease?.release().catch(() => undefined);
  }

  async #tryLead(): Promise<void> {
    if (this.#stopped) return;
    if (!this.leading) {
      try {
        const lease = await this.store.tryAcquireLease(RECONCILER_LEASE);
        if (lease && !this.#stopped) {
          this.#lease = lease;
          this.logger.info('this healing instance reconciles the incidents');
          void lease.lost.then(() => {
            if (!this.#stopped) this.logger.warn('this healing instance lost the reconciler lease');
          });
          this.#reconcile();
        } else {
          await lease?.release();
        }
      } catch (error) {
        this.logger.warn({ err: error }, 'could not ask for the reconciler lease');
      }
    }
    this.#leaseTimer = setTimeout(() => void this.#tryLead(), 500);
    this.#leaseTimer.unref();
  }

  #tick(): void {
    if (this.#stopped) return;
    this.#reconcile();
    this.#timer = setTimeout(() => this.#tick(), this.config.tickMs);
    this.#timer.unref();
  }

  #reconcile(): void {
    if (this.#stopped || !this.leading) return;
    void this.incidents.ready.then(() => {
      for (const incident of this.incidents.open()) this.#run(`incident:${incident.incidentId}`, () => this.#step(incident));
      // The webhooks' view follows the log and may still list an alert just delivered: remember the
      // delivered ones until the view catches up, so none is sent twice.
      const pending = new Set<string>();
      for (const webhook of this.incidents.webhooks()) {
        for (const alert of webhook.pending) {
          const key = `alert:${alert.alertId}`;
          pending.add(key);
          if (this.#delivered.has(key)) continue;
          this.#run(key, async () => {
            await this.#deliver(webhook, alert);
            this.#delivered.add(key);
          });
        }
      }
      for (const key of this.#delivered) if (!pending.has(key)) this.#delivered.delete(key);
    });
  }

  #run(key: string, work: () => Promise<void>): void {
    if (this.#stopped || !this.leading || this.#busy.has(key) || (this.#notBefore.get(key) ?? 0) > Date.now()) return;
    this.#busy.add(key);
    work()
      .catch((error: unknown) => {
        this.logger.warn({ err: error, key }, 'a healing step failed; it is tried again');
        this.#notBefore.set(key, Date.now() + Math.max(this.config.tickMs, 200));
      })
      .finally(() => this.#busy.delete(key));
  }

  async #step(seen: IncidentState): Promise<void> {
    // The view may lag: plan from the stream itself.
    const incident = await this.incidents.get(seen.incidentId);
    const step = planIncident(incident, new Date(), { crashWindowMs: this.config.crashLoopWindowMs });
    const result = await this.#carryOut(incident, step);
    if (result) await this.incidents.execute(incident.incidentId, result);
  }

  async #carryOut(incident: IncidentState, step: IncidentStep): Promise<IncidentCommand | undefined> {
    const at = () => new Date().toISOString();
    switch (step.kind) {
      case 'wait':
        return undefined;
      case 'resolve':
        return { type: 'Resolve', how: step.how, at: at() };
      case 'escalate':
        return { type: 'Escalate', why: step.why, at: at() };
      case 'quarantine': {
        const trust = this.config.quarantineTrust;
        answer(await this.client.send(SetNodeTrust, { nodeId: step.nodeId, trust, reason: `quarantined by healing: flapping (incident ${incident.incidentId})` }), 'spores');
        return { type: 'RecordQuarantine', trust, at: at() };
      }
      case 'open-round': {
        const { roundCommitMs: commitMs, roundRevealMs: revealMs } = this.config;
        const opened = answer(
          await this.client.send(OpenRound, {
            topic: 'node-liveness',
            question: `Is node ${step.nodeId} down? Probe it directly and answer "up" if it answers you.`,
            subject: step.nodeId,
            options: ['up', 'down'],
            commitMs,
            revealMs,
            requestedBy: incident.incidentId,
          }),
          'consensus',
        );
        const revealDeadline = Date.parse(opened.revealDeadline);
        const deadline = new Date((Number.isNaN(revealDeadline) ? Date.now() + commitMs + revealMs : revealDeadline) + this.config.roundGraceMs).toISOString();
        return { type: 'RecordRoundRequested', roundId: opened.roundId, deadline, at: at() };
      }
      case 'evacuate': {
        const evacuated = answer(
          await this.client.send(EvacuateNode, { nodeId: step.nodeId, reason: `confirmed down by its peers (incident ${incident.incidentId})`, incidentId: incident.incidentId }),
          'deployment',
        );
        return { type: 'RecordEvacuation', replicas: evacuated.replicas, at: at() };
      }
      case 'retire': {
        const retired = answer(
          await this.client.send(RetireReplica, { appId: step.appId, replicaId: step.replicaId, reason: `crashed past the cap of restarts in place (incident ${incident.incidentId})`, incidentId: incident.incidentId }),
          'deployment',
        );
        return { type: 'RecordRetirement', retired: retired.retired, at: at() };
      }
      default: {
        const unknown: never = step;
        throw new Error(`unknown healing step ${(unknown as { kind: string }).kind}`);
      }
    }
  }

  async #deliver(webhook: WebhookState, alert: PendingAlert): Promise<void> {
    const tenant = webhook.tenant!;
    if (!webhook.url || !webhook.sealedSecret) return;
    const secret = this.config.secrets.open(webhook.sealedSecret, `webhook:${tenant}`);
    const result = await deliverWebhook(
      { url: webhook.url, body: JSON.stringify(alert.body), headers: { 'content-type': 'application/json', 'X-Mycelium-Alert-Id': alert.alertId }, secret },
      { attempts: this.config.alertAttempts, backoffMs: this.config.alertBackoffMs, maxBackoffMs: this.config.alertMaxBackoffMs, timeoutMs: this.config.alertTimeoutMs },
      () => this.#stopped,
    );
    if (this.#stopped && !result.ok) return;
    const at = new Date().toISOString();
    await this.incidents.executeWebhook(
      tenant,
      result.ok
        ? { type: 'RecordDelivered', alertId: alert.alertId, attempts: result.attempts, status: result.status, at }
        : { type: 'RecordFailed', alertId: alert.alertId, attempts: result.attempts, error: result.error, ...(result.status === undefined ? {} : { status: result.status }), at },
    );
  }
}

/** Thrown when the owning service refused or could not be reached: the step is tried again later. */
export class HealingCommandFailed extends Error {
  readonly code: string;

  constructor(service: string, code: string, message: string) {
    super(`${service} answered ${code}: ${message}`);
    this.name = 'HealingCommandFailed';
    this.code = code;
  }
}

function answer<Result>(reply: CommandReply<Result>, service: string): Result {
  if (!reply.ok) throw new HealingCommandFailed(service, reply.error.code, reply.error.message);
  return reply.result;
}
