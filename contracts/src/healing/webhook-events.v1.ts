import { IsIn, IsInt, IsISO8601, IsObject, IsOptional, IsString, IsUrl, Length, Matches, Min } from 'class-validator';
import { defineEvent } from '../registry.js';
import { IsTenant } from '../tenancy.js';
import { INCIDENT_ID } from './incident-events.v1.js';

/**
 * A tenant's alert webhook and the alerts sent to it (`healing/webhook/<tenant>`). The secret that
 * signs the bodies is stored sealed under the healing service's key, never in clear.
 */

export const ALERT_KINDS = ['incident.opened', 'incident.resolved', 'incident.escalated'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

abstract class TenantFact {
  @IsTenant()
  tenant!: string;

  @IsISO8601()
  at!: string;
}

export class WebhookSetV1 extends TenantFact {
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  url!: string;

  /** The signing secret, sealed (AES-256-GCM) under the healing service's key. */
  @IsString()
  @Length(1, 2000)
  sealedSecret!: string;
}

export class AlertRequestedV1 extends TenantFact {
  /** The id of the incident event the alert reports: receivers dedupe on it. */
  @IsString()
  @Length(1, 80)
  alertId!: string;

  @Matches(INCIDENT_ID)
  incidentId!: string;

  @IsIn(ALERT_KINDS)
  kind!: AlertKind;

  /** The JSON body the receiver gets. */
  @IsObject()
  body!: Record<string, unknown>;
}

export class AlertDeliveredV1 extends TenantFact {
  @IsString()
  @Length(1, 80)
  alertId!: string;

  @IsInt()
  @Min(1)
  attempts!: number;

  @IsInt()
  status!: number;
}

export class AlertFailedV1 extends TenantFact {
  @IsString()
  @Length(1, 80)
  alertId!: string;

  @IsInt()
  @Min(1)
  attempts!: number;

  @IsString()
  @Length(1, 1000)
  error!: string;

  @IsOptional()
  @IsInt()
  status?: number;
}

const event = <P extends object, const N extends string>(name: N, payload: new () => P, description: string) =>
  defineEvent({ service: 'healing', aggregate: 'webhook', name, version: 1, payload, description });

export const WebhookSet = event('webhook-set', WebhookSetV1, 'A tenant set the URL its incident alerts are POSTed to, with the secret that signs them.');
export const AlertRequested = event('alert-requested', AlertRequestedV1, 'An incident of the tenant opened, resolved or escalated: an alert is to be POSTed to its webhook.');
export const AlertDelivered = event('alert-delivered', AlertDeliveredV1, 'The tenant’s webhook accepted the alert (2xx).');
export const AlertFailed = event('alert-failed', AlertFailedV1, 'The tenant’s webhook did not accept the alert after every retry.');

export const webhookEvents = [WebhookSet, AlertRequested, AlertDelivered, AlertFailed];
