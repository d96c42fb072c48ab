import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { AgentSubjects, WorkloadSubjects } from '@mycelium/contracts';
import {
  agentInboxPrefix,
  agentPermissions,
  bootstrapInboxPrefix,
  bootstrapPermissions,
  credsFor,
  initNetwork,
  type Network,
  newNatsUserKey,
} from '@mycelium/identity';
import { startNatsServer, type TestNatsServer } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const encoder = new TextEncoder();
const asCreds = (creds: string) => credsAuthenticator(encoder.encode(creds));
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

/**
 * Node owners are strangers: on a secured grid an agent's NATS user can do what an agent does and
 * nothing more. The server runs with the network's own configuration (operator mode).
 */
describe('least privilege on the bus', () => {
  let network: Network;
  let server: TestNatsServer;
  let services: NatsConnection;
  const open: NatsConnection[] = [];

  /** An agent connected with the credentials the spores service issues a node that joined. */
  const agent = async (nodeId: string) => {
    const key = newNatsUserKey();
    const jwt = await network.nats!.issueUserJwt(`node-${nodeId}`, key.publicKey, { permissions: agentPermissions(nodeId) });
    const errors: string[] = [];
    const nc = await connect({ servers: server.url, authenticator: asCreds(credsFor(jwt, key.seed)), inboxPrefix: agentInboxPrefix(nodeId) });
    void (async () => {
      for await (const status of nc.status()) if (status.type === 'error') errors.push(status.error.message);
    })();
    open.push(nc);
    return { nc, errors };
  };

  /** Everything that reaches `subject`, as the services see it. */
  const watch = (subject: string) => {
    const seen: string[] = [];
    services.subscribe(subject, {
      callback: (_error, msg) => {
        seen.push(msg.subject);
      },
    });
    return seen;
  };

  beforeAll(async () => {
    network = await initNetwork(join(mkdtempSync(join(tmpdir(), 'bus-')), 'network'), { secured: true });
    server = await startNatsServer({ config: network.nats!.serverConfig({ host: '127.0.0.1', port: 0, storeDir: '{{STORE}}' }).replace(/listen: "127\.0\.0\.1:0"/, 'listen: "127.0.0.1:{{PORT}}"') });
    services = await connect({ servers: server.url, authenticator: asCreds(network.servicesCreds!) });
    open.push(services);
  });
  afterAll(async () => {
    await Promise.all(open.map((nc) => nc.close().catch(() => undefined)));
    await server?.stop();
  });

  it('refuses a client without credentials', async () => {
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow(/authorization/i);
  });

  it('lets an agent heartbeat on its own subject', async () => {
    const seen = watch('agent.*.heartbeat');
    await services.flush();
    const { nc } = await agent('aaaaaaaaaaaaaaaaaaaa');
    nc.publish(AgentSubjects.heartbeat('aaaaaaaaaaaaaaaaaaaa'), 'beat');
    await nc.flush();
    await settle();
    expect(seen).toEqual(['agent.aaaaaaaaaaaaaaaaaaaa.heartbeat']);
  });

  it('refuses an agent publishing a command to billing or deployment, or posing as another node', async () => {
    const seen = watch('>');
    await services.flush();
    const { nc, errors } = await agent('bbbbbbbbbbbbbbbbbbbb');
    nc.publish('cmd.billing.credits.top-up', '{"amount":"1000000"}');
    nc.publish('cmd.deployment.app.deploy', '{}');
    nc.publish(AgentSubjects.heartbeat('cccccccccccccccccccc'), 'forged');
    await nc.flush().catch(() => undefined);
    await settle();
    expect(seen.filter((subject) => subject.startsWith('cmd.') || subject.includes('cccc'))).toEqual([]);
    expect(errors.join('\n')).toMatch(/Permissions Violation for Publish to "cmd\.billing\.credits\.top-up"/);
    expect(errors.join('\n')).toMatch(/Permissions Violation for Publish to "cmd\.deployment\.app\.deploy"/);
  });

  it('refuses an agent reading another node’s subjects or the event stream', async () => {
    const { nc, errors } = await agent('dddddddddddddddddddd');
    const received: string[] = [];
    const denied: string[] = [];
    const callback = (error: Error | null, msg: { subject: string }) => {
      if (error) denied.push(error.message);
      else received.push(msg.subject);
    };
    nc.subscribe('agent.eeeeeeeeeeeeeeeeeeee.>', { callback });
    nc.subscribe('evt.>', { callback });
    nc.subscribe('_INBOX.>', { callback });
    await nc.flush().catch(() => undefined);
    services.publish(AgentSubjects.notice('eeeeeeeeeeeeeeeeeeee'), 'private');
    services.publish('evt.billing.account.credited', '{}');
    await services.flush();
    await settle();
    expect(received).toEqual([]);
    expect(denied).toHaveLength(3);
    expect(errors.join('\n')).toMatch(/Permissions Violation for Subscription to "agent\.eeeeeeeeeeeeeeeeeeee\.>"/);
    expect(errors.join('\n')).toMatch(/Permissions Violation for Subscription to "evt\.>"/);
  });

  it('lets an agent answer, once, a request sent to its logs subject, and still publish nowhere else', async () => {
    const nodeId = '11111111111111111111';
    const { nc, errors } = await agent(nodeId);
    nc.subscribe(WorkloadSubjects.logs(nodeId), {
      callback: (_error, msg) => {
        msg.respond('{"ok":true,"lines":[]}');
        // A second answer to the same request is one more than the permission allows.
        msg.respond('again');
      },
    });
    await nc.flush();
    const answer = await services.request(WorkloadSubjects.logs(nodeId), '{"replicaId":"r-1"}', { timeout: 2000 });
    expect(answer.string()).toBe('{"ok":true,"lines":[]}');

    // A request whose reply subject the services watch: exactly one answer gets through.
    const replies = watch('services.replies.>');
    await services.flush();
    services.publish(WorkloadSubjects.logs(nodeId), '{}', { reply: 'services.replies.1' });
    await services.flush();
    await settle();
    expect(replies).toEqual(['services.replies.1']);

    const seen = watch('>');
    await services.flush();
    nc.publish(WorkloadSubjects.report('22222222222222222222'), 'forged');
    nc.publish('services.replies.1', 'unasked');
    nc.publish('_INBOX.someone.else', 'unasked');
    nc.publish('cmd.deployment.app.deploy', '{}');
    await nc.flush().catch(() => undefined);
    await settle();
    expect(seen).toEqual([]);
    expect(errors.join('\n')).toMatch(/Permissions Violation for Publish to "agent\.22222222222222222222\.workloads\.report"/);
    expect(errors.join('\n')).toMatch(/Permissions Violation for Publish to "_INBOX\.someone\.else"/);
    expect(errors.join('\n')).toMatch(/Permissions Violation for Publish to "cmd\.deployment\.app\.deploy"/);
  });

  it('gives a join token’s credentials nothing but asking to join, answered in its own inbox', async () => {
    const tokenId = '01890a5d-ac96-774b-bcce-b302099a8057';
    services.subscribe(AgentSubjects.join, {
      callback: (_error, msg) => {
        msg.respond('welcome');
      },
    });
    await services.flush();
    const creds = await network.nats!.issueCreds('join', { permissions: bootstrapPermissions(tokenId) });
    const errors: string[] = [];
    const nc = await connect({ servers: server.url, authenticator: asCreds(creds), inboxPrefix: bootstrapInboxPrefix(tokenId) });
    open.push(nc);
    void (async () => {
      for await (const status of nc.status()) if (status.type === 'error') errors.push(status.error.message);
    })();
    expect(new TextDecoder().decode((await nc.request(AgentSubjects.join, 'hello', { timeout: 2000 })).data)).toBe('welcome');
    nc.publish(AgentSubjects.heartbeat('ffffffffffffffffffff'), 'beat');
    await nc.flush().catch(() => undefined);
    await settle();
    expect(errors.join('\n')).toMatch(/Permissions Violation for Publish to "agent\.ffffffffffffffffffff\.heartbeat"/);
  });
});
