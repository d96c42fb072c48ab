import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser } from '@asyncapi/parser';
import { IsString } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { renderContractArtifacts } from './artifacts.js';
import { buildAsyncApi } from './asyncapi.js';
import { ContractRegistry, defineCommand } from './registry.js';
import { gridContracts, gridRegistry } from './services.js';

const contractsDir = join(dirname(fileURLToPath(import.meta.url)), '..');

class PingV1 {
  @IsString()
  text!: string;
}

describe('AsyncAPI document', () => {
  it('is a valid AsyncAPI 3.0 document with a channel for every event', async () => {
    const document = buildAsyncApi(gridRegistry(), { title: 'grid', version: '1.0.0', description: 'test' });
    const { document: parsed, diagnostics } = await new Parser().parse(document);
    expect(diagnostics.filter((d) => d.severity === 0)).toEqual([]);
    expect(parsed).toBeDefined();
    const addresses = parsed!.channels().all().map((channel) => channel.address());
    for (const event of gridContracts) expect(addresses).toContain(event.subject);
  });

  it('documents the event API: SSE, WebSocket and webhooks carry every event', async () => {
    const { document: parsed, diagnostics } = await new Parser().parse(buildAsyncApi(gridRegistry(), { title: 'grid', version: '1.0.0', description: 'test' }));
    expect(diagnostics.filter((d) => d.severity === 0)).toEqual([]);
    const byAddress = new Map(parsed!.channels().all().map((channel) => [channel.address(), channel]));
    const events = gridContracts.filter((definition) => definition.kind === 'event');
    for (const address of ['/v1/events', '/v1/events/ws']) {
      const names = byAddress.get(address)!.messages().all().map((message) => message.name());
      for (const event of events) expect(names).toContain(event.type);
    }
    expect(byAddress.get('/v1/events')!.servers().all().map((server) => server.protocol())).toEqual(['http']);
    expect(byAddress.get('/v1/events/ws')!.servers().all().map((server) => server.protocol())).toEqual(['ws']);
  });

  it('describes commands as request/reply operations', async () => {
    const registry = new ContractRegistry([
      ...gridContracts,
      defineCommand({ service: 'spores', name: 'nodes.ping', payload: PingV1, description: 'Answers pong.' }),
    ]);
    const { document, diagnostics } = await new Parser().parse(buildAsyncApi(registry, { title: 't', version: '1.0.0', description: 'd' }));
    expect(diagnostics.filter((d) => d.severity === 0)).toEqual([]);
    const operation = document!.operations().all().find((op) => op.channels().all()[0]?.address() === 'cmd.spores.nodes.ping');
    expect(operation?.action()).toBe('receive');
    expect(operation?.reply()).toBeDefined();
  });

  it('is committed up to date (run `npm run contracts:generate` after changing a contract)', () => {
    const { version } = JSON.parse(readFileSync(join(contractsDir, 'package.json'), 'utf8')) as { version: string };
    for (const [path, content] of renderContractArtifacts(gridRegistry(), version)) {
      expect(readFileSync(join(contractsDir, path), 'utf8'), path).toBe(content);
    }
  });
});
