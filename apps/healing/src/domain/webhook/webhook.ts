import {
  AlertDelivered,
  type AlertDeliveredV1,
  AlertFailed,
  type AlertFailedV1,
  type AlertKind,
  AlertRequested,
  type AlertRequestedV1,
  WebhookSet,
  type WebhookSetV1,
} from '@mycelium/contracts';
import type { Decider } from '@mycelium/eventstore';

/** A tenant's webhook and its alerts (`healing/webhook/<tenant>`): events, state, decide. */

export type WebhookEvent =
  | { type: typeof WebhookSet.type; data: WebhookSetV1 }
  | { type: typeof AlertRequested.type; data: AlertRequestedV1 }
  | { type: typeof AlertDelivered.type; data: AlertDeliveredV1 }
  | { type: typeof AlertFailed.type; data: AlertFailedV1 };

export type WebhookCommand =
  | { type: 'SetWebhook'; tenant: string; url: string; sealedSecret: string; at: string }
  | { type: 'RequestAlert'; tenant: string; alertId: string; incidentId: string; kind: AlertKind; body: Record<string, unknown>; at: string }
  | { type: 'RecordDelivered'; alertId: string; attempts: number; status: number; at: string }
  | { type: 'RecordFailed'; alertId: string; attempts: number; error: string; status?: number; at: string };

export interface PendingAlert {
  alertId: string;
  incidentId: string;
  kind: AlertKind;
  body: Record<string, unknown>;
}

export interface WebhookState {
  tenant?: string;
  url?: string;
  sealedSecret?: string;
  pending: PendingAlert[];
  /** Alerts delivered or given up on. */
  settled: string[];
}

export const WEBHOOK_STREAM_PREFIX = 'healing/webhook/';
export const webhookStream = (tenant: string) => `${WEBHOOK_STREAM_PREFIX}${tenant}`;

export function initialWebhookState(): WebhookState {
  return { pending: [], settled: [] };
}

export function evolveWebhook(state: WebhookState, event: WebhookEvent): WebhookState {
  switch (event.type) {
    case WebhookSet.type:
      return { ...state, tenant: event.data.tenant, url: event.data.url, sealedSecret: event.data.sealedSecret };
    case AlertRequested.type: {
      const { alertId, incidentId, kind, body } = event.data;
      return { ...state, tenant: event.data.tenant, pending: [...state.pending, { alertId, incidentId, kind, body }] };
    }
    case AlertDelivered.type:
    case AlertFailed.type:
      return { ...state, pending: state.pending.filter((alert) => alert.alertId !== event.data.alertId), settled: [...state.settled, event.data.alertId] };
    default: {
      const unknown: never = event;
      throw new Error(`unknown webhook event ${(unknown as { type: string }).type}`);
    }
  }
}

export function decideWebhook(command: WebhookCommand, state: WebhookState): WebhookEvent[] {
  switch (command.type) {
    case 'SetWebhook': {
      const { type: _type, ...data } = command;
      return [{ type: WebhookSet.type, data }];
    }
    case 'RequestAlert': {
      // A tenant without a webhook gets no alerts; one alert per incident event, however often it is seen.
      if (!state.url || state.settled.includes(command.alertId) || state.pending.some((alert) => alert.alertId === command.alertId)) return [];
      const { type: _type, ...data } = command;
      return [{ type: AlertRequested.type, data }];
    }
    case 'RecordDelivered': {
      if (!state.pending.some((alert) => alert.alertId === command.alertId)) return [];
      const { type: _type, ...data } = command;
      return [{ type: AlertDelivered.type, data: { tenant: state.tenant!, ...data } }];
    }
    case 'RecordFailed': {
      if (!state.pending.some((alert) => alert.alertId === command.alertId)) return [];
      const { type: _type, ...data } = command;
      return [{ type: AlertFailed.type, data: { tenant: state.tenant!, ...data } }];
    }
    default: {
      const unknown: never = command;
      throw new Error(`unknown webhook command ${(unknown as { type: string }).type}`);
    }
  }
}

export const webhookDecider: Decider<WebhookCommand, WebhookEvent, WebhookState> = {
  decide: decideWebhook,
  evolve: evolveWebhook,
  initialState: initialWebhookState,
};
