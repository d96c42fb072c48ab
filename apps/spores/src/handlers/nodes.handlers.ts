import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  CommandRejection,
  ErrorCodes,
  GetNode,
  type GetNodeV1,
  type NodeHistoryEntry,
  type NodeView,
  QueryNodes,
  type QueryNodesV1,
  SetNodeTrust,
  type SetNodeTrustV1,
} from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { type CommandContext, EVENT_STORE, OnCommand } from '@mycelium/messaging';
import { NodeCommands } from '../registry/node-commands.js';
import { NODE_STREAM_PREFIX, NodeRegistry } from '../registry/node-registry.js';

/** The primary spore's commands: querying the registry, one node with its history, trust. */
@Controller()
export class NodesHandlers {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly registry: NodeRegistry,
    private readonly commands: NodeCommands,
  ) {}

  @OnCommand(QueryNodes)
  async query(@Payload() filters: QueryNodesV1): Promise<{ nodes: NodeView[]; total: number }> {
    await this.registry.ready;
    return this.registry.query(filters, new Date());
  }

  @OnCommand(GetNode)
  async get(@Payload() request: GetNodeV1): Promise<{ node: NodeView; history?: NodeHistoryEntry[] }> {
    await this.registry.ready;
    const entry = this.registry.get(request.nodeId);
    if (!entry) throw new CommandRejection({ code: ErrorCodes.NotFound, message: `no node ${request.nodeId} has joined this grid`, field: 'nodeId' });
    const node = this.registry.view(entry, new Date());
    if (!request.history) return { node };
    const events = await this.store.readStream(`${NODE_STREAM_PREFIX}${request.nodeId}`);
    return {
      node,
      history: events.map((event) => ({
        type: event.type,
        at: event.recordedAt.toISOString(),
        position: event.position.toString(),
        data: event.data as Record<string, unknown>,
      })),
    };
  }

  @OnCommand(SetNodeTrust)
  async setTrust(@Payload() request: SetNodeTrustV1, @Ctx() ctx: CommandContext): Promise<{ trust: number }> {
    const state = await this.commands.execute(
      request.nodeId,
      { type: 'SetTrust', data: { trust: request.trust, reason: request.reason, now: new Date().toISOString() } },
      ctx.eventMetadata,
    );
    return { trust: state.status === 'unknown' ? request.trust : state.trust };
  }
}
