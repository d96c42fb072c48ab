import { createHash } from 'node:crypto';

/**
 * How the consensus service and node agents hold a round, without validation code, so the agent
 * can speak it without loading the validators (docs/adr/0012, 0017). Every subject is under the
 * node's own `agent.<nodeId>.>`: on a secured network only that node (and the services) may
 * publish there, so the subject names the sender, and only the services hear what nodes send.
 *
 *   agent.<nodeId>.consensus.invite   publish   RoundInvitation                  (consensus → agent)
 *   agent.<nodeId>.consensus.commit   publish   signed CommitMessage envelope    (agent → consensus)
 *   agent.<nodeId>.consensus.reveal   publish   signed RevealMessage envelope    (agent → consensus)
 *
 * Commit and reveal are the node's signed envelopes (libs/identity sealEnvelope), like heartbeats.
 */
export const ConsensusSubjects = {
  invite: (nodeId: string) => `agent.${nodeId}.consensus.invite`,
  commit: (nodeId: string) => `agent.${nodeId}.consensus.commit`,
  reveal: (nodeId: string) => `agent.${nodeId}.consensus.reveal`,
  /** What the consensus service listens on, for all nodes. */
  allCommits: 'agent.*.consensus.commit',
  allReveals: 'agent.*.consensus.reveal',
} as const;

/** What a participant is asked. Deadlines are the consensus service's clock, ISO 8601. */
export interface RoundInvitation {
  roundId: string;
  topic: string;
  question: string;
  /** node-liveness: the suspect's node id; otherwise what is decided (a change id). */
  subject: string;
  options: string[];
  commitDeadline: string;
  revealDeadline: string;
  /** node-liveness: the suspect's gossip address, to probe it directly. */
  suspect?: { nodeId: string; gossipAddress?: string };
}

/** Sent before the commit deadline. */
export interface CommitMessage {
  kind: 'consensus-commit';
  nodeId: string;
  roundId: string;
  /** {@link commitmentOf}(vote, salt). */
  commitment: string;
  ts: number;
}

/** Sent after the commit deadline and before the reveal deadline; earlier ones are refused (send again later). */
export interface RevealMessage {
  kind: 'consensus-reveal';
  nodeId: string;
  roundId: string;
  vote: string;
  salt: string;
  ts: number;
}

/** A salt needs enough entropy that nobody can try every option against a commitment. */
export const MIN_SALT_LENGTH = 16;
export const MAX_SALT_LENGTH = 256;

/**
 * The commitment to a vote: lower-case hex SHA-256 of the UTF-8 bytes of `${vote}:${salt}`.
 * Options may not contain ':', so the split is unambiguous.
 */
export function commitmentOf(vote: string, salt: string): string {
  return createHash('sha256').update(`${vote}:${salt}`, 'utf8').digest('hex');
}

/**
 * Network-wide changes the nodes vote on (topic `network-change`, docs/adr/0020). The round's
 * subject says what is proposed, `<change>=<value>`, so an agent can vote by rule.
 */
export const NETWORK_CHANGES = ['min-agent-version'] as const;
export type NetworkChangeName = (typeof NETWORK_CHANGES)[number];

/** A release number `major.minor.patch`, optionally with a pre-release or build suffix. */
export const VERSION = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/;

export const networkChangeSubject = (change: NetworkChangeName, value: string) => `${change}=${value}`;

/** The change a `network-change` round's subject names, if it names one this grid knows. */
export function parseNetworkChangeSubject(subject: string): { change: NetworkChangeName; value: string } | undefined {
  const [change, value, ...rest] = subject.split('=');
  if (rest.length > 0 || value === undefined || !(NETWORK_CHANGES as readonly string[]).includes(change!) || !VERSION.test(value)) return undefined;
  return { change: change as NetworkChangeName, value };
}
