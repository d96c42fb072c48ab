import { Inject, Injectable } from '@nestjs/common';
import { type EventMetadata, type EventStore, handleCommand } from '@mycelium/eventstore';
import { EVENT_STORE } from '@mycelium/messaging';
import type { NodeState } from '../domain/node/node.js';
import { type NodeCommand, nodeDecider } from '../domain/node/node.decider.js';
import { NODE_STREAM_PREFIX, NodeRegistry } from './node-registry.js';

/**
 * Runs a node command: load the node's stream, decide, append at the version read. It returns once
 * this instance's registry shows the result, so whoever asked reads their own write.
 */
@Injectable()
export class NodeCommands {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly registry: NodeRegistry,
  ) {}

  async execute(nodeId: string, command: NodeCommand, metadata?: EventMetadata): Promise<NodeState> {
    const { state, position } = await handleCommand(this.store, `${NODE_STREAM_PREFIX}${nodeId}`, nodeDecider, command, { metadata, maxAttempts: 5 });
    if (position !== undefined) await this.registry.caughtUp(position);
    return state;
  }
}
