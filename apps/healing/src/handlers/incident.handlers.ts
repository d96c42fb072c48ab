import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  CommandRejection,
  ErrorCodes,
  GetIncident,
  type GetIncidentV1,
  type IncidentView,
  ListIncidents,
  type ListIncidentsV1,
  SetWebhook,
  type SetWebhookV1,
} from '@mycelium/contracts';
import { type CommandContext, OnCommand } from '@mycelium/messaging';
import { viewOfIncident } from '../domain/incident/incident.js';
import { HEALING_CONFIG, type HealingConfig } from '../healing.config.js';
import { Incidents } from '../incidents/incidents.js';

/** What operators (and tests) ask the healing service: incidents, and tenants' webhooks. */
@Controller()
export class IncidentHandlers {
  constructor(
    private readonly incidents: Incidents,
    @Inject(HEALING_CONFIG) private readonly config: HealingConfig,
  ) {}

  @OnCommand(GetIncident)
  async get(@Payload() request: GetIncidentV1): Promise<IncidentView> {
    const state = await this.incidents.get(request.incidentId);
    if (state.status === 'none') {
      throw new CommandRejection({ code: ErrorCodes.NotFound, message: `no incident ${request.incidentId}`, field: 'incidentId' });
    }
    return viewOfIncident(state);
  }

  @OnCommand(ListIncidents)
  async list(@Payload() request: ListIncidentsV1): Promise<{ incidents: IncidentView[] }> {
    await this.incidents.ready;
    const incidents = this.incidents
      .all()
      .filter((state) => request.open === undefined || (state.status === 'open') === request.open)
      .filter((state) => request.subject === undefined || state.subject === request.subject);
    return { incidents: incidents.map(viewOfIncident) };
  }

  @OnCommand(SetWebhook)
  async setWebhook(@Payload() request: SetWebhookV1, @Ctx() ctx: CommandContext): Promise<{ tenant: string; url: string }> {
    const sealedSecret = this.config.secrets.seal(request.secret, `webhook:${request.tenant}`);
    await this.incidents.executeWebhook(request.tenant, { type: 'SetWebhook', tenant: request.tenant, url: request.url, sealedSecret, at: new Date().toISOString() }, undefined, ctx.eventMetadata);
    return { tenant: request.tenant, url: request.url };
  }
}
