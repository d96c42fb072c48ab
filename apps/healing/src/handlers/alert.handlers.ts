import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { type AlertKind, IncidentEscalated, IncidentOpened, IncidentResolved } from '@mycelium/contracts';
import { type EventContext, OnEvents } from '@mycelium/messaging';
import { viewOfIncident } from '../domain/incident/incident.js';
import { Incidents } from '../incidents/incidents.js';

const ALERTED: Record<string, AlertKind> = {
  [IncidentOpened.type]: 'incident.opened',
  [IncidentResolved.type]: 'incident.resolved',
  [IncidentEscalated.type]: 'incident.escalated',
};

/**
 * Turns the incident events of a tenant's apps into alerts to its webhook. The alert is recorded
 * here (exactly once, with the inbox); the reconciler POSTs it and records how that went.
 */
@Controller()
export class AlertHandlers {
  constructor(private readonly incidents: Incidents) {}

  @OnEvents('evt.healing.incident.>', { durable: 'healing-alerts' })
  async incidentEvent(@Payload() payload: unknown, @Ctx() ctx: EventContext): Promise<void> {
    const kind = ALERTED[ctx.event.type];
    if (!kind) return;
    const { incidentId, at } = payload as { incidentId: string; at: string };
    const incident = await this.incidents.get(incidentId, ctx.tx);
    if (!incident.tenant) return;
    // An opening alert tells what was known at the opening: no actions or outcome yet.
    const view = viewOfIncident(incident);
    const body = { alertId: ctx.event.id, kind, at, incident: { ...view, ...(kind === 'incident.opened' ? { status: 'open', actions: [], timeline: [], outcome: undefined, closedAt: undefined } : {}) } };
    await this.incidents.executeWebhook(
      incident.tenant,
      { type: 'RequestAlert', tenant: incident.tenant, alertId: ctx.event.id, incidentId, kind, body: JSON.parse(JSON.stringify(body)) as Record<string, unknown>, at },
      ctx.tx,
      ctx.eventMetadata,
    );
  }
}
