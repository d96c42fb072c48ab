import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { type CommitMessage, commitmentOf, ConsensusSubjects, type RevealMessage, type RoundInvitation } from '@mycelium/contracts/consensus';
import { sealEnvelope } from '@mycelium/identity';
import type { NodeIdentity } from '@mycelium/node-client';
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
   * A topic without a rule is abstained from: e.g. `network-change` until an operator gives one.
   */
  rules?: Record<string, VoteRule>;
  /**
   * When to reveal, as a share of the reveal window after the commit deadline: late enough that a
   * clock a little behind the service's does not reveal before it, early enough to arrive in time.
   */
  revealAt?: number;
}

interface Pending {
  timer?: NodeJS.Timeout;
}

/**
 * The node's part in consensus rounds: on an invitation it decides its vote, commits
 * H(vote:salt) at once with a fresh random salt, and reveals vote and salt after the commit
 * deadline. Both are signed with the node's key and sent on its own subjects.
 */
export class RoundParticipant {
  #nc: NatsConnection | undefined;
  #subject: (subject: string) => string = (subject) => subject;
  #subscription: Subscription | undefined;
  readonly #rounds = new Map<string, Pending>();
  #stopped = false;

  constructor(private readonly options: RoundParticipantOptions) {}

  get #nodeId(): string {
    return this.options.identity.nodeId;
  }

  /** Listens for invitations on `nc` (again, when the agent traded its connection for another). */
  listen(nc: NatsConnection, subject: (subject: string) => string): void {
    if (this.#nc === nc || this.#stopped) return;
    this.#subscription?.unsubscribe();
    this.#nc = nc;
    this.#subject = subject;
    this.#subscription = nc.subscribe(subject(ConsensusSubjects.invite(this.#nodeId)), {
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
        void this.#take(invitation).catch((takeError: unknown) => this.options.logger.error({ err: takeError, roundId: invitation.roundId }, 'could not take part in a round'));
      },
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#subscription?.unsubscribe();
    for (const pending of this.#rounds.values()) clearTimeout(pending.timer);
    this.#rounds.clear();
  }

  async #take(invitation: RoundInvitation): Promise<void> {
    const { roundId } = invitation;
    // The service sends invitations again after a takeover: one answer per round.
    if (this.#rounds.has(roundId) || this.#stopped) return;
    const pending: Pending = {};
    this.#rounds.set(roundId, pending);
    const commitDeadline = Date.parse(invitation.commitDeadline);
    const revealDeadline = Date.parse(invitation.revealDeadline);
    const vote = await this.#decide(invitation, commitDeadline);
    if (vote === undefined || this.#stopped) {
      this.#forgetAt(roundId, revealDeadline);
      return;
    }
    if (!invitation.options.includes(vote)) {
      this.options.logger.warn({ roundId, vote }, 'the vote rule answered something that is not an option: abstaining');
      this.#forgetAt(roundId, revealDeadline);
      return;
    }
    // A commitment after the deadline is an offence: better to abstain.
    if (Date.now() >= commitDeadline) {
      this.options.logger.warn({ roundId }, 'decided too late to commit in time: abstaining');
      this.#forgetAt(roundId, revealDeadline);
      return;
    }
    const salt = randomBytes(32).toString('hex');
    this.#send(ConsensusSubjects.commit(this.#nodeId), {
      kind: 'consensus-commit',
      nodeId: this.#nodeId,
      roundId,
      commitment: commitmentOf(vote, salt),
      ts: Date.now(),
    } satisfies CommitMessage);
    this.options.logger.info({ roundId, topic: invitation.topic, subject: invitation.subject }, `committed a vote in round ${roundId}`);
    const revealAt = commitDeadline + (revealDeadline - commitDeadline) * (this.options.revealAt ?? 1 / 3);
    pending.timer = setTimeout(() => {
      this.#send(ConsensusSubjects.reveal(this.#nodeId), { kind: 'consensus-reveal', nodeId: this.#nodeId, roundId, vote, salt, ts: Date.now() } satisfies RevealMessage);
      this.options.logger.info({ roundId, vote }, `revealed its vote in round ${roundId}`);
      this.#forgetAt(roundId, revealDeadline);
    }, Math.max(0, revealAt - Date.now()));
    pending.timer.unref();
  }

  async #decide(invitation: RoundInvitation, commitDeadline: number): Promise<string | undefined> {
    if (invitation.topic === 'node-liveness') {
      const address = invitation.suspect?.gossipAddress;
      // Nothing to probe: no opinion.
      if (!address) return undefined;
      const probe = this.options.probe ?? DEFAULT_PROBE;
      // Every try must fit before the commit deadline, with time left to send the commitment.
      const timeoutMs = Math.max(10, Math.min(probe.timeoutMs, (commitDeadline - Date.now()) / (probe.tries + 1)));
      const vote = await probeLiveness(address, { ...probe, timeoutMs });
      this.options.logger.info({ roundId: invitation.roundId, suspect: invitation.subject, vote }, `probed node ${invitation.subject}: ${vote}`);
      return vote;
    }
    const rule = this.options.rules?.[invitation.topic];
    return rule ? await rule(invitation) : undefined;
  }

  /** Keeps the round id until the round is over, so a repeated invitation is not answered twice. */
  #forgetAt(roundId: string, revealDeadline: number): void {
    const pending = this.#rounds.get(roundId);
    if (!pending) return;
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => this.#rounds.delete(roundId), Math.max(0, revealDeadline - Date.now()) + 1000);
    pending.timer.unref();
  }

  #send(subject: string, payload: CommitMessage | RevealMessage): void {
    const nc = this.#nc;
    if (!nc || nc.isClosed()) return;
    try {
      nc.publish(this.#subject(subject), JSON.stringify(sealEnvelope(this.options.identity.signer, payload)));
    } catch (error) {
      this.options.logger.warn({ err: error, roundId: payload.roundId }, `could not send a ${payload.kind}`);
    }
  }
}

/** The invitation, if it has what the participant needs. */
export function parseInvitation(body: unknown): RoundInvitation | undefined {
  const candidate = body as Partial<RoundInvitation> | null;
  if (typeof candidate !== 'object' || candidate === null) return undefined;
  const { roundId, topic, subject, options, commitDeadline, revealDeadline } = candidate;
  if (typeof roundId !== 'string' || typeof topic !== 'string' || typeof subject !== 'string') return undefined;
  if (!Array.isArray(options) || !options.every((option) => typeof option === 'string')) return undefined;
  if (typeof commitDeadline !== 'string' || typeof revealDeadline !== 'string' || Number.isNaN(Date.parse(commitDeadline)) || Number.isNaN(Date.parse(revealDeadline))) return undefined;
  const suspect = candidate.suspect;
  if (suspect !== undefined && (typeof suspect !== 'object' || suspect === null || (suspect.gossipAddress !== undefined && typeof suspect.gossipAddress !== 'string'))) return undefined;
  return candidate as RoundInvitation;
}
