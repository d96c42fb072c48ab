import { randomBytes } from 'node:crypto';
import { type CommitMessage, commitmentOf, ConsensusSubjects, type RevealMessage, type RoundInvitation } from '@mycelium/contracts/consensus';
import { sealEnvelope, type Signer } from '@mycelium/identity';

/** A vote among the invitation's options, or undefined to abstain (no commitment: no offence). */
export type Judge = (invitation: RoundInvitation) => string | undefined | Promise<string | undefined>;

/** Where a voter says what it did; a pino logger fits. */
export interface VoterLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface RoundVoterOptions {
  nodeId: string;
  signer: Signer;
  /** Sends a message on a grid subject (mapped into the grid's namespace by the caller). */
  publish: (subject: string, body: string) => void;
  judge: Judge;
  /**
   * When to reveal, as a share of the reveal window after the commit deadline: late enough that a
   * clock a little behind the service's does not reveal before it, early enough to arrive in time.
   */
  revealAt?: number;
  log?: VoterLog;
}

/**
 * A node's part in consensus rounds (docs/adr/0017), for agents and simulated nodes alike: on an
 * invitation it asks its judge for a vote, commits sha256("<vote>:<salt>") at once with 32 random
 * bytes of salt, and reveals a third of the reveal window after the commit deadline, both signed
 * with the node's key on its own subjects. A vote decided after the commit deadline is not sent:
 * a late commitment is an offence, abstaining is not.
 */
export class RoundVoter {
  readonly #rounds = new Map<string, NodeJS.Timeout | undefined>();
  #stopped = false;

  constructor(private readonly options: RoundVoterOptions) {}

  /** Resolves once the commitment is sent (or the node abstained); the reveal follows on a timer. */
  async invited(body: unknown): Promise<'committed' | 'abstained' | 'ignored'> {
    const invitation = parseInvitation(body);
    // The service sends invitations again after a takeover: one answer per round.
    if (this.#stopped || !invitation || this.#rounds.has(invitation.roundId)) return 'ignored';
    const { roundId } = invitation;
    this.#rounds.set(roundId, undefined);
    const commitDeadline = Date.parse(invitation.commitDeadline);
    const revealDeadline = Date.parse(invitation.revealDeadline);
    const vote = await this.options.judge(invitation);
    const abstain = (why?: string) => {
      if (why) this.options.log?.warn({ roundId, vote }, why);
      this.#forgetAt(roundId, revealDeadline);
      return 'abstained' as const;
    };
    if (this.#stopped || vote === undefined) return abstain();
    if (!invitation.options.includes(vote)) return abstain('the vote rule answered something that is not an option: abstaining');
    if (Date.now() >= commitDeadline) return abstain('decided too late to commit in time: abstaining');
    const salt = randomBytes(32).toString('hex');
    const { nodeId } = this.options;
    this.#send(ConsensusSubjects.commit(nodeId), { kind: 'consensus-commit', nodeId, roundId, commitment: commitmentOf(vote, salt), ts: Date.now() } satisfies CommitMessage);
    this.options.log?.info({ roundId, topic: invitation.topic, subject: invitation.subject }, `committed a vote in round ${roundId}`);
    const revealAt = commitDeadline + (revealDeadline - commitDeadline) * (this.options.revealAt ?? 1 / 3);
    const timer = setTimeout(() => {
      if (this.#stopped) return;
      this.#send(ConsensusSubjects.reveal(nodeId), { kind: 'consensus-reveal', nodeId, roundId, vote, salt, ts: Date.now() } satisfies RevealMessage);
      this.options.log?.info({ roundId, vote }, `revealed its vote in round ${roundId}`);
      this.#forgetAt(roundId, revealDeadline);
    }, Math.max(0, revealAt - Date.now()));
    timer.unref();
    this.#rounds.set(roundId, timer);
    return 'committed';
  }

  /** The node stops (or died): no reveal of what it committed, no answer to new rounds. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#rounds.values()) clearTimeout(timer);
    this.#rounds.clear();
  }

  /** Keeps the round id until the round is over, so a repeated invitation is not answered twice. */
  #forgetAt(roundId: string, revealDeadline: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => this.#rounds.delete(roundId), Math.max(0, revealDeadline - Date.now()) + 1000);
    timer.unref();
    this.#rounds.set(roundId, timer);
  }

  #send(subject: string, payload: CommitMessage | RevealMessage): void {
    try {
      this.options.publish(subject, JSON.stringify(sealEnvelope(this.options.signer, payload)));
    } catch (error) {
      this.options.log?.warn({ err: error, roundId: payload.roundId }, `could not send a ${payload.kind}`);
    }
  }
}

/** The invitation, if it has what a voter needs. */
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
