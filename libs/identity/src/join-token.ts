import { randomUUID } from 'node:crypto';
import { fromBase64Url, toBase64Url } from './encoding.js';
import { IdentityRejection } from './errors.js';
import { networkIdOf, type Signer, verifySignature } from './keys.js';
import { isNodeTier, type NodeTier } from './tiers.js';

/** What a join token grants: joining one network, up to a tier, until it expires. */
export interface JoinTokenClaims {
  /** The network id. */
  iss: string;
  /** Token id. */
  jti: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch. */
  exp: number;
  /** The highest tier a node joining with this token may hold. */
  tier: NodeTier;
  /** The network's public key, so the node can check what the network signs (seed snapshots). */
  netkey: string;
  /**
   * Where to reach the grid's NATS, the credentials to ask to join with (secured networks), and the
   * grid's subject namespace when it has one.
   */
  nats?: { servers: string[]; creds?: string; namespace?: string };
}

const HEADER = toBase64Url(Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' })));

/** Issues a join token: a JWT signed (EdDSA) with the network key. */
export function issueJoinToken(
  network: Signer,
  options: { tier: NodeTier; ttlSeconds: number; now?: Date; nats?: JoinTokenClaims['nats']; id?: string },
): { token: string; claims: JoinTokenClaims } {
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const claims: JoinTokenClaims = {
    iss: networkIdOf(network.publicKey),
    jti: options.id ?? randomUUID(),
    iat,
    exp: iat + options.ttlSeconds,
    tier: options.tier,
    netkey: network.publicKey,
    ...(options.nats ? { nats: options.nats } : {}),
  };
  const body = `${HEADER}.${toBase64Url(Buffer.from(JSON.stringify(claims)))}`;
  return { token: `${body}.${network.sign(Buffer.from(body))}`, claims };
}

/** The claims of a token without checking it: what the node reads to find its network. */
export function readJoinToken(token: unknown): JoinTokenClaims {
  if (typeof token !== 'string') throw new IdentityRejection('MALFORMED', 'the join token must be a string');
  const parts = token.split('.');
  if (parts.length !== 3) throw new IdentityRejection('MALFORMED', 'the join token is not a JWT (three dot-separated parts)');
  let claims: Partial<JoinTokenClaims>;
  try {
    claims = JSON.parse(fromBase64Url(parts[1]!).toString('utf8')) as Partial<JoinTokenClaims>;
  } catch {
    throw new IdentityRejection('MALFORMED', 'the join token’s claims are not JSON');
  }
  if (
    typeof claims.iss !== 'string' ||
    typeof claims.jti !== 'string' ||
    typeof claims.exp !== 'number' ||
    typeof claims.iat !== 'number' ||
    typeof claims.netkey !== 'string' ||
    !isNodeTier(claims.tier)
  ) {
    throw new IdentityRejection('MALFORMED', 'the join token lacks iss, jti, iat, exp, tier or netkey');
  }
  return claims as JoinTokenClaims;
}

/**
 * Checks a join token for this network: signed by the network key, issued for it, not expired.
 * Each failure has its own code, and a message that says what to do.
 */
export function verifyJoinToken(token: unknown, network: { id: string; publicKey: string }, now: Date): JoinTokenClaims {
  const claims = readJoinToken(token);
  const [header, payload, signature] = (token as string).split('.') as [string, string, string];
  if (claims.iss !== network.id || claims.netkey !== network.publicKey) {
    throw new IdentityRejection(
      'WRONG_NETWORK',
      `the join token is for network ${claims.iss}, this is ${network.id}: ask this network's operator for a token (myc node token)`,
    );
  }
  if (!verifySignature(network.publicKey, Buffer.from(`${header}.${payload}`), signature)) {
    throw new IdentityRejection('FORGED_TOKEN', 'the join token is not signed by this network’s key: it was altered or forged');
  }
  if (claims.exp * 1000 <= now.getTime()) {
    throw new IdentityRejection(
      'EXPIRED_TOKEN',
      `the join token expired at ${new Date(claims.exp * 1000).toISOString()}: ask for a new one (myc node token --ttl …)`,
    );
  }
  return claims;
}
