import { IsBoolean, IsOptional, IsString, IsUrl, Length, Matches } from 'class-validator';
import { defineCommand } from '../registry.js';
import { IsTenant } from '../tenancy.js';
import { INCIDENT_ID, type IncidentAction, type IncidentKind } from './incident-events.v1.js';

export class SetWebhookV1 {
  @IsTenant()
  tenant!: string;

  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'url must be an http(s) URL' })
  url!: string;

  /** Signs each body: `X-Mycelium-Signature: sha256=<hex HMAC-SHA256 of the body>`. */
  @IsString()
  @Length(16, 200, { message: 'secret must be 16 to 200 characters' })
  secret!: string;
}

export class GetIncidentV1 {
  @Matches(INCIDENT_ID, { message: 'incidentId must look like inc_<20 hex characters>' })
  incidentId!: string;
}

export class ListIncidentsV1 {
  /** Only open (true) or only closed (false) incidents. */
  @IsOptional()
  @IsBoolean()
  open?: boolean;

  /** Only incidents about this node, replica or app. */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  subject?: string;
}

export type IncidentStatus = 'open' | 'resolved' | 'escalated';

export interface IncidentView {
  incidentId: string;
  kind: IncidentKind;
  subject: string;
  tenant?: string;
  appId?: string;
  status: IncidentStatus;
  openedAt: string;
  closedAt?: string;
  /** How it was resolved, or why it was escalated. */
  outcome?: string;
  evidence: Record<string, unknown>;
  /** Every action, in order, with its reason. */
  actions: { action: IncidentAction; target: string; reason: string; mode: 'commanded' | 'observed'; detail?: Record<string, unknown>; at: string }[];
  /** The incident's history as event names and times, oldest first. */
  timeline: { event: string; at: string }[];
}

export const SetWebhook = defineCommand<SetWebhookV1, { tenant: string; url: string }>({
  service: 'healing',
  name: 'webhook.set',
  payload: SetWebhookV1,
  description: 'Sets the URL the tenant’s incident alerts (opened, resolved, escalated) are POSTed to, signed with the secret (HMAC-SHA256 in X-Mycelium-Signature).',
});

export const GetIncident = defineCommand<GetIncidentV1, IncidentView>({
  service: 'healing',
  name: 'incident.get',
  payload: GetIncidentV1,
  description: 'One incident with its evidence, every action and its reason, and how it ended.',
});

export const ListIncidents = defineCommand<ListIncidentsV1, { incidents: IncidentView[] }>({
  service: 'healing',
  name: 'incident.list',
  payload: ListIncidentsV1,
  description: 'Incidents, newest first; only open or closed ones, or those about one subject.',
});

export const healingCommands = [SetWebhook, GetIncident, ListIncidents];
