import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  CommandRejection,
  DEFAULT_HISTORY_LIMIT,
  ErrorCodes,
  GetNode,
  type GetNodeV1,
  type NodeDetail,
  type NodeHistoryEntry,
  type NodeView,
  ListNodeIds,
  type ListNodeIdsV1,
  type NodeIdsV1,
  QueryNodes,
  type QueryNodesV1,
  SetNodeTrust,
  type SetNodeTrustV1,
} from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { type CommandContext, EVENT_STORE, OnCommand } from '@mycelium/messaging';
import { NodeCommands } from '../registry/node-commands.js';
import { NODE_STREAM_PREFIX, NodeRegistry } from '../registry/node-registry.js';

/** The history a reply carries at most: well under NATS' 1 MB max_payload, with room for the node and the envelope. */
const HISTORY_BYTES = 512 * 1024;

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

  @OnCommand(ListNodeIds)
  async ids(@Payload() filters: ListNodeIdsV1): Promise<NodeIdsV1> {
    await this.registry.ready;
    const nodeIds: string[] = [];
    const publicKeys: Record<string, string> | undefined = filters.withKeys ? {} : undefined;
    for (const { node } of this.registry.entries()) {
      if (filters.status && node.status !== filters.status) continue;
      nodeIds.push(node.nodeId);
      if (publicKeys) publicKeys[node.nodeId] = node.publicKey;
    }
    return publicKeys ? { nodeIds, publicKeys } : { nodeIds };
  }

  @OnCommand(GetNode)
  async get(@Payload() request: GetNodeV1): Promise<NodeDetail> {
    await this.registry.ready;
    const entry = this.registry.get(request.nodeId);
    if (!entry) throw new CommandRejection({ code: ErrorCodes.NotFound, message: `no node ${request.nodeId} has joined this grid`, field: 'nodeId' });
    const node = this.registry.view(entry, new Date());
    if (!request.history) return { node };
    // A node's stream grows for as long as it lives: read only the newest events.
    const stream = `${NODE_STREAM_PREFIX}${request.nodeId}`;
    const limit = request.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    const version = await this.store.streamVersion(stream);
    const fromVersion = Math.max(1, version - limit + 1);
    const events = await this.store.readStream(stream, { fromVersion, maxCount: limit });
    const history = newestWithin(
      events.map((event) => ({
        type: event.type,
        at: event.recordedAt.toISOString(),
        position: event.position.toString(),
        data: event.data as Record<string, unknown>,
      })),
      HISTORY_BYTES,
    );
    // Events appended since the version was read may follow; they count too.
    const total = Math.max(version, fromVersion - 1 + events.length);
    return { node, history, historyTotal: total, historyTruncated: history.length < total };
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

/** The newest entries whose JSON fits in `bytes`, oldest first. */
function newestWithin(entries: NodeHistoryEntry[], bytes: number): NodeHistoryEntry[] {
  let size = 0;
  let first = entries.length;
  while (first > 0) {
    size += Buffer.byteLength(JSON.stringify(entries[first - 1])) + 1;
    if (size > bytes) break;
    first -= 1;
  }
  return entries.slice(first);
}
