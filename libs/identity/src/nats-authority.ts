import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { createAccount, createOperator, createUser, fromSeed } from '@nats-io/nkeys';

/**
 * NATS in operator mode: the grid's operator signs an account; the account's signing key issues a
 * user JWT per party, each with only the permissions that party needs. Per-node permissions are
 * why: a static server configuration cannot scope a user to the subjects of one node.
 */
export interface NatsAuthorityPublic {
  operatorJwt: string;
  systemAccountId: string;
  systemAccountJwt: string;
  accountId: string;
  accountJwt: string;
}

export interface NatsAuthoritySeeds {
  operator: string;
  systemAccount: string;
  account: string;
  signingKey: string;
}

export interface UserPermissions {
  pub: string[];
  sub: string[];
  /** May answer requests it receives, `max` replies each within `ttlMs`, whatever `pub` says of the reply subject. */
  resp?: { max: number; ttlMs: number };
}

const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function createNatsAuthority(): Promise<{ public: NatsAuthorityPublic; seeds: NatsAuthoritySeeds }> {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const signingKey = createAccount();
  const operatorJwt = await encodeOperator('mycelium', operator, { system_account: system.getPublicKey() });
  const systemAccountJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  const accountJwt = await encodeAccount('GRID', account, { signing_keys: [signingKey.getPublicKey()], limits: UNLIMITED }, { signer: operator });
  const seed = (key: { getSeed(): Uint8Array }) => decoder.decode(key.getSeed());
  return {
    public: { operatorJwt, systemAccountId: system.getPublicKey(), systemAccountJwt, accountId: account.getPublicKey(), accountJwt },
    seeds: { operator: seed(operator), systemAccount: seed(system), account: seed(account), signingKey: seed(signingKey) },
  };
}

/** Issues NATS user credentials on behalf of the grid's account. */
export class NatsAuthority {
  constructor(
    readonly published: NatsAuthorityPublic,
    private readonly seeds?: NatsAuthoritySeeds,
  ) {}

  get canIssue(): boolean {
    return this.seeds !== undefined;
  }

  /** A `.creds` file (JWT and a new user's seed) for a party that may do what `permissions` allow; everything when omitted. */
  async issueCreds(name: string, options: { permissions?: UserPermissions; expiresAt?: Date } = {}): Promise<string> {
    const user = createUser();
    const jwt = await this.issueUserJwt(name, user.getPublicKey(), options);
    return decoder.decode(fmtCreds(jwt, user));
  }

  /** A user JWT for a key the party holds itself (its seed never leaves it). */
  async issueUserJwt(name: string, userPublicKey: string, options: { permissions?: UserPermissions; expiresAt?: Date } = {}): Promise<string> {
    if (!this.seeds) throw new Error('this process holds no NATS signing key, so it cannot issue credentials');
    const signer = fromSeed(encoder.encode(this.seeds.signingKey));
    const user = { getPublicKey: () => userPublicKey } as ReturnType<typeof createUser>;
    return encodeUser(
      name,
      user,
      signer,
      {
        issuer_account: this.published.accountId,
        ...(options.permissions ? { pub: { allow: options.permissions.pub }, sub: { allow: options.permissions.sub } } : {}),
        // The JWT's ttl is a Go duration: nanoseconds.
        ...(options.permissions?.resp ? { resp: { max: options.permissions.resp.max, ttl: options.permissions.resp.ttlMs * 1_000_000 } } : {}),
      },
      options.expiresAt ? { exp: Math.floor(options.expiresAt.getTime() / 1000) } : {},
    );
  }

  /** A nats-server configuration trusting this authority, with JetStream. */
  serverConfig(options: { host: string; port: number; storeDir: string; httpPort?: number }): string {
    const { published } = this;
    return [
      '# A nats-server for a Mycelium grid in operator mode (written by myc; see infra/nats/README.md).',
      `listen: "${options.host}:${options.port}"`,
      ...(options.httpPort ? [`http: "${options.host}:${options.httpPort}"`] : []),
      `operator: ${published.operatorJwt}`,
      `system_account: ${published.systemAccountId}`,
      'resolver: MEMORY',
      'resolver_preload: {',
      `  ${published.systemAccountId}: ${published.systemAccountJwt}`,
      `  ${published.accountId}: ${published.accountJwt}`,
      '}',
      `jetstream { store_dir: ${JSON.stringify(options.storeDir)} }`,
      'max_payload: 1MB',
      '',
    ].join('\n');
  }
}

/**
 * What a node's agent may do on the bus: publish and subscribe on its own subjects, ask to join,
 * receive replies in its own inbox, and answer once each request sent to it (a replica's logs):
 * the reply goes to the asker's inbox, which no static allow-list could name. `prefix` is the
 * grid's namespace prefix (empty or `ns.`).
 */
export function agentPermissions(nodeId: string, prefix = ''): UserPermissions {
  return {
    pub: [`${prefix}agent.${nodeId}.>`, `${prefix}spores.agent.join`],
    sub: [`${prefix}agent.${nodeId}.>`, `${agentInboxPrefix(nodeId)}.>`],
    resp: { max: 1, ttlMs: 10_000 },
  };
}

/** What a join token's credentials allow: asking to join, and hearing the answer. */
export function bootstrapPermissions(tokenId: string, prefix = ''): UserPermissions {
  return { pub: [`${prefix}spores.agent.join`], sub: [`${bootstrapInboxPrefix(tokenId)}.>`] };
}

/** Inboxes are per node (and per token), so no agent can read another's replies. */
export function agentInboxPrefix(nodeId: string): string {
  return `_INBOX_${nodeId}`;
}

export function bootstrapInboxPrefix(tokenId: string): string {
  return `_INBOX_J${tokenId.replace(/[^A-Za-z0-9]/g, '')}`;
}

/** A new key pair for a NATS user whose JWT is issued by someone else. */
export function newNatsUserKey(): { publicKey: string; seed: string } {
  const user = createUser();
  return { publicKey: user.getPublicKey(), seed: decoder.decode(user.getSeed()) };
}

/** A `.creds` file from a JWT and the user's own seed. */
export function credsFor(jwt: string, seed: string): string {
  return decoder.decode(fmtCreds(jwt, fromSeed(encoder.encode(seed))));
}
