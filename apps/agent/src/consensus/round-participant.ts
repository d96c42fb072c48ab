import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { ConsensusSubjects, type RoundInvitation } from '@mycelium/contracts/consensus';
import { type NodeIdentity, parseInvitation, RoundVoter } from '@mycelium/node-client';
import type { Logger } from '@mycelium/telemetry/logger';
import { DEFAULT_PROBE, probeLiveness, type ProbeOptions } from './liveness-probe.js';

/**
 * How the node votes on a topic: one of the invitation's options, or undefined to abstain (no
 * commitment: no offence, but its weight then counts for no option).
 */
export type VoteRule = (invitation: RoundInvitation) => string | undefined | Promise<string | undefined>;

export interface RoundParticipantOptions {
  identity: NodeIdentity;
  logger: Logger;
  probe?: ProbeOptions;
  /**
   * Rules for topics other than node-liveness (which the node answers by probing the suspect).
   * A topic without a rule is abstained from.
   */
  rules?: Record<string, VoteRule>;
  /** When to reveal, as a share of the reveal window after the commit deadline. */
  revealAt?: number;
}

/**
 * The agent's part in consensus rounds: it hears invitations on its own subject and votes through
 * a RoundVoter (commit at once, reveal after the commit deadline, both signed). A node-liveness
 * round it answers by probing the suspect itself; other topics by its rules.
 */
export class RoundParticipant {
  #nc: NatsConnection | undefined;
  #subject: (subject: string) => string = (subject) => subject;
  #subscription: Subscription | undefined;
  readonly #voter: RoundVoter;
  #stopped = false;

  constructor(private readonly options: RoundParticipantOptions) {
    this.#voter = new RoundVoter({
      nodeId: options.identity.nodeId,
      signer: options.identity.signer,
      publish: (subject, body) => {
        const nc = this.#nc;
        if (nc && !nc.isClosed()) nc.publish(this.#subject(subject), body);
      },
      judge: (invitation) => this.#decide(invitation),
      log: options.logger,
      ...(options.revealAt !== undefined ? { revealAt: options.revealAt } : {}),
    });
  }

  /** Listens for invitations on `nc` (again, when the agent traded its connection for another). */
  listen(nc: NatsConnection, subject: (subject: string) => string): void {
    if (this.#nc === nc || this.#stopped) return;
    this.#subscription?.unsubscribe();
    this.#nc = nc;
    this.#subject = subject;
    this.#subscription = nc.subscribe(subject(ConsensusSubjects.invite(this.options.identity.nodeId)), {
      callback: (error, msg) => {
        if (error) {
          this.options.logger.warn({ err: error }, 'the consensus invitation subscription failed');
          return;
        }
        let invitation: RoundInvitation | undefined;
        try {
          invitation = parseInvitation(msg.json());
        } catch {
          invitation = undefined;
        }
        if (!invitation) {
          this.options.logger.warn({ subject: msg.subject }, 'ignored a malformed consensus invitation');
          return;
        }
        void this.#voter.invited(invitation).catch((takeError: unknown) => this.options.logger.error({ err: takeError, roundId: invitation.roundId }, 'could not take part in a round'));
      },
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#subscription?.unsubscribe();
    this.#voter.stop();
  }

  async #decide(invitation: RoundInvitation): Promise<string | undefined> {
    if (invitation.topic === 'node-liveness') {
      const address = invitation.suspect?.gossipAddress;
      // Nothing to probe: no opinion.
      if (!address) return undefined;
      const probe = this.options.probe ?? DEFAULT_PROBE;
      // Every try must fit before the commit deadline, with time left to send the commitment.
      const timeoutMs = Math.max(10, Math.min(probe.timeoutMs, (Date.parse(invitation.commitDeadline) - Date.now()) / (probe.tries + 1)));
      const vote = await probeLiveness(address, { ...probe, timeoutMs });
      this.options.logger.info({ roundId: invitation.roundId, suspect: invitation.subject, vote }, `probed node ${invitation.subject}: ${vote}`);
      return vote;
    }
    const rule = this.options.rules?.[invitation.topic];
    return rule ? await rule(invitation) : undefined;
  }
}
