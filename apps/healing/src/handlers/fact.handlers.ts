import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  ReplicaCircuitOpened,
  type ReplicaCircuitOpenedV1,
  AppReplicaFailed,
  type AppReplicaFailedV1,
  AppReplicaHealthy,
  type AppReplicaHealthyV1,
  AppReplicaRestarted,
  type AppReplicaRestartedV1,
  AppRolloutFailed,
  type AppRolloutFailedV1,
  INCIDENT_ID,
  NodeDeclaredDown,
  type NodeDeclaredDownV1,
  NodeRecovered,
  type NodeRecoveredV1,
  NodeSuspected,
  type NodeSuspectedV1,
  RoundClosed,
  type RoundClosedV1,
} from '@mycelium/contracts';
import { type EventContext, OnEvent, OnEvents } from '@mycelium/messaging';
import { rolloutIncidentId } from '../domain/incident/incident.js';
import { flapping } from '../domain/incident/plan.js';
import { HEALING_CONFIG, type HealingConfig } from '../healing.config.js';
import { Incidents } from '../incidents/incidents.js';

/**
 * Facts of different aggregates handled at once; one aggregate's (a node's, an app's, a round's)
 * still in order. Fifty nodes failing at once are fifty independent incidents; two facts that move
 * the same incident conflict on its stream and the later is decided again.
 */
const FACT_CONCURRENCY = 8;

/**
 * The facts healing watches, each consumed from JetStream in the inbox transaction: what a fact
 * does to an incident commits with the mark that it was handled, exactly once. One consumer per
 * source keeps each aggregate's facts in log order (a replica fails before its replacement is healthy).
 */
@Controller()
export class FactHandlers {
  constructor(
    private readonly incidents: Incidents,
    @Inject(HEALING_CONFIG) private readonly config: HealingConfig,
  ) {}

  @OnEvents('evt.spores.node.>', { durable: 'healing-node-facts', concurrency: FACT_CONCURRENCY })
  async nodeFact(@Payload() payload: unknown, @Ctx() ctx: EventContext): Promise<void> {
    const { tx, eventMetadata } = ctx;
    switch (ctx.event.type) {
      case NodeSuspected.type:
      case NodeDeclaredDown.type: {
        const fact = payload as NodeSuspectedV1 | NodeDeclaredDownV1;
        const { history, nextId, open } = await this.incidents.episodes(fact.nodeId, tx);
        if (open) {
          if (ctx.event.type === NodeDeclaredDown.type) await this.incidents.execute(open.incidentId, { type: 'RecordNodeDeclaredDown', at: fact.at }, tx, eventMetadata);
          return;
        }
        const quarantined = history.some((entry) => entry.state.actions.some((action) => action.action === 'quarantine') && Date.parse(entry.state.openedAt) >= Date.parse(fact.at) - this.config.flappingWindowMs);
        const flaps = quarantined ? undefined : flapping(history.map((entry) => entry.state.openedAt), fact.at, { limit: this.config.flappingLimit, windowMs: this.config.flappingWindowMs });
        const { at: _at, nodeId: _nodeId, ...evidence } = fact;
        await this.incidents.execute(
          nextId,
          {
            type: 'OpenNodeIncident',
            incidentId: nextId,
            kind: ctx.event.type === NodeSuspected.type ? 'node-suspected' : 'node-down',
            nodeId: fact.nodeId,
            evidence: { ...evidence },
            ...(flaps ? { flapping: flaps } : {}),
            at: fact.at,
          },
          tx,
          eventMetadata,
        );
        return;
      }
      case NodeRecovered.type: {
        const fact = payload as NodeRecoveredV1;
        const { open } = await this.incidents.episodes(fact.nodeId, tx);
        if (open) await this.incidents.execute(open.incidentId, { type: 'RecordNodeRecovered', from: fact.from, at: fact.at }, tx, eventMetadata);
        return;
      }
      default:
        return;
    }
  }

  @OnEvent(RoundClosed, { durable: 'healing-round-closed', concurrency: FACT_CONCURRENCY })
  async roundClosed(@Payload() round: RoundClosedV1, @Ctx() ctx: EventContext): Promise<void> {
    if (round.topic !== 'node-liveness') return;
    const command = { type: 'RecordRoundClosed', roundId: round.roundId, outcome: round.outcome, tally: round.tally, at: round.at } as const;
    if (round.requestedBy && INCIDENT_ID.test(round.requestedBy)) {
      await this.incidents.execute(round.requestedBy, command, ctx.tx, ctx.eventMetadata);
      return;
    }
    // A round someone else asked for about a node healing suspects answers its question too.
    const { open } = await this.incidents.episodes(round.subject, ctx.tx);
    if (open) await this.incidents.execute(open.incidentId, command, ctx.tx, ctx.eventMetadata);
  }

  @OnEvent(ReplicaCircuitOpened, { durable: 'healing-circuit-facts' })
  async circuitOpened(@Payload() fact: ReplicaCircuitOpenedV1, @Ctx() ctx: EventContext): Promise<void> {
    const { history, nextId, open } = await this.incidents.episodes(fact.replicaId, ctx.tx);
    if (!open && history.at(-1)?.state.retired) return;
    const incidentId = open?.incidentId ?? nextId;
    await this.incidents.execute(
      incidentId,
      {
        type: 'RecordCircuitOpened',
        incidentId,
        appId: fact.appId,
        replicaId: fact.replicaId,
        nodeId: fact.nodeId,
        address: fact.address,
        reason: fact.reason,
        tenant: fact.tenant,
        at: fact.at,
        policy: { cap: this.config.crashLoopCap, windowMs: this.config.crashLoopWindowMs },
      },
      ctx.tx,
      ctx.eventMetadata,
    );
  }

  @OnEvents('evt.deployment.app.>', { durable: 'healing-app-facts', concurrency: FACT_CONCURRENCY })
  async appFact(@Payload() payload: unknown, @Ctx() ctx: EventContext): Promise<void> {
    const { tx, eventMetadata } = ctx;
    const tenant = ctx.event.tenant;
    switch (ctx.event.type) {
      case AppReplicaRestarted.type: {
        const fact = payload as AppReplicaRestartedV1;
        const { history, nextId, open } = await this.incidents.episodes(fact.replicaId, tx);
        // A retired replica's last restarts can still arrive: its incident is closed for good.
        if (!open && history.at(-1)?.state.retired) return;
        const incidentId = open?.incidentId ?? nextId;
        await this.incidents.execute(
          incidentId,
          {
            type: 'RecordReplicaRestarted',
            incidentId,
            appId: fact.appId,
            replicaId: fact.replicaId,
            nodeId: fact.nodeId,
            restarts: fact.restarts,
            ...(fact.message ? { message: fact.message } : {}),
            ...(tenant ? { tenant } : {}),
            at: fact.at,
            policy: { cap: this.config.crashLoopCap, windowMs: this.config.crashLoopWindowMs },
          },
          tx,
          eventMetadata,
        );
        return;
      }
      case AppReplicaFailed.type: {
        const fact = payload as AppReplicaFailedV1;
        const { open } = await this.incidents.episodes(fact.nodeId, tx);
        if (open) await this.incidents.execute(open.incidentId, { type: 'RecordReplicaFailed', appId: fact.appId, replicaId: fact.replicaId, nodeId: fact.nodeId, reason: fact.reason, at: fact.at }, tx, eventMetadata);
        return;
      }
      case AppReplicaHealthy.type: {
        const fact = payload as AppReplicaHealthyV1;
        // Replacements can land anywhere: offer the fact to every node incident being evacuated.
        // The view may lag; the decider, reading the streams, drops what does not belong.
        const nodeIncidents = this.incidents.open().filter((incident) => incident.kind === 'node-suspected' || incident.kind === 'node-down');
        await this.incidents.executeAcross(
          nodeIncidents.map((incident) => incident.incidentId),
          { type: 'RecordReplicaHealthy', appId: fact.appId, replicaId: fact.replicaId, nodeId: fact.nodeId, at: fact.at },
          tx,
          eventMetadata,
        );
        return;
      }
      case AppRolloutFailed.type: {
        const fact = payload as AppRolloutFailedV1;
        const incidentId = rolloutIncidentId(fact.rolloutId);
        await this.incidents.execute(
          incidentId,
          {
            type: 'RecordRolloutFailed',
            incidentId,
            appId: fact.appId,
            ...(tenant ? { tenant } : {}),
            rolloutId: fact.rolloutId,
            rolloutKind: fact.kind,
            code: fact.code,
            reason: fact.reason,
            ...(fact.rolledBackTo ? { rolledBackTo: fact.rolledBackTo } : {}),
            at: fact.at,
          },
          tx,
          eventMetadata,
        );
        return;
      }
      default:
        return;
    }
  }
}
