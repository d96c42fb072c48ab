import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type StateAt, stateAtOf, type StateAtV1 } from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { EVENT_STORE, OnCommand, stateAt } from '@mycelium/messaging';
import { NETWORK_STREAM_PREFIX, networkStateOf } from '../domain/network/network.js';
import { evolveNode, initialNodeState, type NodeEvent } from '../domain/node/node.js';
import { NODE_STREAM_PREFIX, NodeRegistry } from '../registry/node-registry.js';

/** The nodes (and the network's settings) as they were at any moment of the log, as `nodes.get` shows a node now. */
@Controller()
export class StateHandlers {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly registry: NodeRegistry,
  ) {}

  @OnCommand(stateAtOf.spores)
  async at(@Payload() request: StateAtV1): Promise<StateAt> {
    return stateAt(
      this.store,
      'spores',
      request,
      {
        streamPrefix: NODE_STREAM_PREFIX,
        view: (events) => {
          const node = (events as unknown as NodeEvent[]).reduce(evolveNode, initialNodeState());
          if (node.status === 'unknown') return undefined;
          const last = events[events.length - 1]!;
          // Uptime as it stood then: measured to the node's last event.
          return this.registry.view({ node, position: last.position }, last.recordedAt);
        },
      },
      { streamPrefix: NETWORK_STREAM_PREFIX, view: (events) => networkStateOf(events) },
    );
  }
}
