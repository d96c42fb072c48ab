import semver from 'semver';
import { parseNetworkChangeSubject, type RoundInvitation } from '@mycelium/contracts/consensus';

/** `sim-0.1.0`, `0.2.0-rc.1`, `v1.2.3`: the release a version string names, or undefined. */
export const releaseOf = (version: string): string | undefined => semver.coerce(version, { includePrerelease: true })?.version;

/** Whether `version` is at least `minimum`; an unreadable version meets nothing. */
export function meetsVersion(version: string, minimum: string): boolean {
  const release = releaseOf(version);
  const floor = releaseOf(minimum);
  return release !== undefined && floor !== undefined && semver.gte(release, floor);
}

/**
 * How a node votes on a network-wide change by default (docs/adr/0020): it approves a minimum
 * agent version it meets itself and rejects one that would lock it out, so a minimum passes only
 * when enough of the trusted nodes already run it. A change it does not know it abstains from.
 */
export function networkChangeVote(ownAgentVersion: string): (invitation: RoundInvitation) => string | undefined {
  return (invitation) => {
    const proposed = parseNetworkChangeSubject(invitation.subject);
    if (!proposed || proposed.change !== 'min-agent-version') return undefined;
    return meetsVersion(ownAgentVersion, proposed.value) ? 'approve' : 'reject';
  };
}
