import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type StateAt, stateAtOf, type StateAtV1 } from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { EVENT_STORE, OnCommand, stateAt } from '@mycelium/messaging';
import { evolveIncident, type IncidentEvent, initialIncidentState, INCIDENT_STREAM_PREFIX, viewOfIncident } from '../domain/incident/incident.js';

/** The incidents as they were at any moment of the log, as `incident.get` shows one now. */
@Controller()
export class StateHandlers {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @OnCommand(stateAtOf.healing)
  async at(@Payload() request: StateAtV1): Promise<StateAt> {
    return stateAt(this.store, 'healing', request, {
      streamPrefix: INCIDENT_STREAM_PREFIX,
      view: (events) => viewOfIncident((events as unknown as IncidentEvent[]).reduce(evolveIncident, initialIncidentState())),
    });
  }
}
