import { randomBytes } from 'node:crypto';
import { type CommitMessage, commitmentOf, ConsensusSubjects, type RevealMessage, type RoundInvitation } from '@mycelium/contracts/consensus';
import { sealEnvelope, type Signer } from '@mycelium/identity';

/** A vote among the invitation's options, or undefined to abstain. */
export type Judge = (invitation: RoundInvitation) => string | undefined | Promise<string | undefined>;

export interface VirtualVoterOptions {
  nodeId: string;
  signer: Signer;
  /** Sends a message on a grid subject (the simulator maps it into the grid's namespace). */
  publish: (subject: string, body: string) => void;
  judge: Judge;
  /** When to reveal, as a share of the reveal window after the commit deadline (the agent's 1/3). */
  revealAt?: number;
}

/**
 * A virtual node's part in consensus rounds, as the agent plays it (docs/adr/0017): on an
 * invitation it asks its judge for a vote, commits sha256("<vote>:<salt>") at once with 32 random
 * bytes of salt, and reveals a third of the reveal window after the commit deadline, both signed
 * with the node's key on its own subjects. A vote decided after the commit deadline is not sent:
 * a late commitment is an offence, abstaining is not.
 */
export class VirtualVoter {
  readonly #rounds = new Map<string, NodeJS.Timeout | undefined>();
  #dead = false;

  constructor(private readonly options: VirtualVoterOptions) {}

  /** Resolves once the commitment is sent (or the node abstained); the reveal follows on a timer. */
  async invited(body: unknown): Promise<'committed' | 'abstained' | 'ignored'> {
    const invitation = invitationOf(body);
    if (this.#dead || !invitation || this.#rounds.has(invitation.roundId)) return 'ignored';
    const { roundId } = invitation;
    this.#rounds.set(roundId, undefined);
    const commitDeadline = Date.parse(invitation.commitDeadline);
    const revealDeadline = Date.parse(invitation.revealDeadline);
    const vote = await this.options.judge(invitation);
    if (this.#dead || vote === undefined || !invitation.options.includes(vote) || Date.now() >= commitDeadline) {
      this.#forgetAt(roundId, revealDeadline);
      return 'abstained';
    }
    const salt = randomBytes(32).toString('hex');
    this.#send(ConsensusSubjects.commit(this.options.nodeId), {
      kind: 'consensus-commit',
      nodeId: this.options.nodeId,
      roundId,
      commitment: commitmentOf(vote, salt),
      ts: Date.now(),
    } satisfies CommitMessage);
    const revealAt = commitDeadline + (revealDeadline - commitDeadline) * (this.options.revealAt ?? 1 / 3);
    const timer = setTimeout(() => {
      if (!this.#dead) {
        this.#send(ConsensusSubjects.reveal(this.options.nodeId), { kind: 'consensus-reveal', nodeId: this.options.nodeId, roundId, vote, salt, ts: Date.now() } satisfies RevealMessage);
      }
      this.#forgetAt(roundId, revealDeadline);
    }, Math.max(0, revealAt - Date.now()));
    timer.unref();
    this.#rounds.set(roundId, timer);
    return 'committed';
  }

  /** The node died: no reveal of what it committed, no answer to new rounds. */
  kill(): void {
    this.#dead = true;
    for (const timer of this.#rounds.values()) clearTimeout(timer);
    this.#rounds.clear();
  }

  /** Keeps the round id until the round is over, so a repeated invitation is not answered twice. */
  #forgetAt(roundId: string, revealDeadline: number): void {
    if (this.#dead) return;
    const timer = setTimeout(() => this.#rounds.delete(roundId), Math.max(0, revealDeadline - Date.now()) + 1000);
    timer.unref();
    this.#rounds.set(roundId, timer);
  }

  #send(subject: string, payload: CommitMessage | RevealMessage): void {
    this.options.publish(subject, JSON.stringify(sealEnvelope(this.options.signer, payload)));
  }
}

/** The invitation, if it has what a voter needs. */
function invitationOf(body: unknown): RoundInvitation | undefined {
  const candidate = body as Partial<RoundInvitation> | null;
  if (typeof candidate !== 'object' || candidate === null) return undefined;
  const { roundId, topic, subject, options, commitDeadline, revealDeadline } = candidate;
  if (typeof roundId !== 'string' || typeof topic !== 'string' || typeof subject !== 'string') return undefined;
  if (!Array.isArray(options) || !options.every((option) => typeof option === 'string')) return undefined;
  if (typeof commitDeadline !== 'string' || typeof revealDeadline !== 'string' || Number.isNaN(Date.parse(commitDeadline)) || Number.isNaN(Date.parse(revealDeadline))) return undefined;
  return candidate as RoundInvitation;
}
