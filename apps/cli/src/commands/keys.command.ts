import type { Command } from 'commander';
import { API_KEY_SCOPES, type ApiKeyScope, IssueApiKey, ListApiKeys, RevokeApiKey } from '@mycelium/contracts';
import { fail, resultOf, table, withGrid } from '../output.js';

/** `myc keys`: API keys for the REST and event APIs, over NATS (operator credentials only). */
export function defineKeysCommand(program: Command): void {
  const keys = program.command('keys').description('API keys for the REST and event APIs: a tenant and scopes each, stored hashed');

  keys
    .command('create')
    .description('issue a key; it is shown this once')
    .requiredOption('--name <name>', 'what the key is for')
    .option('--scope <scope...>', `scopes: ${API_KEY_SCOPES.join(', ')}`, ['events:read'])
    .option('--tenant <tenant>', 'the tenant it acts for and whose events it sees (default: default)')
    .option('--json', 'print the key as JSON')
    .action(async (options: { name: string; scope: string[]; tenant?: string; json?: boolean }) => {
      const unknown = options.scope.filter((scope) => !(API_KEY_SCOPES as readonly string[]).includes(scope));
      if (unknown.length > 0) fail(program, { message: `unknown scope ${unknown.join(', ')}: use ${API_KEY_SCOPES.join(', ')}`, field: 'scope' });
      const issued = await withGrid(program, async (client) =>
        resultOf(program, await client.send(IssueApiKey, { name: options.name, scopes: options.scope as ApiKeyScope[], ...(options.tenant ? { tenant: options.tenant } : {}) })),
      );
      process.stdout.write(
        options.json
          ? `${JSON.stringify(issued)}\n`
          : `${issued.key}\n  key ${issued.keyId}, scopes ${options.scope.join(' ')}${options.tenant ? `, tenant ${options.tenant}` : ''}: keep it now, it is not shown again\n`,
      );
    });

  keys
    .command('list')
    .description('every key issued, never its secret')
    .option('--tenant <tenant>', 'only this tenant’s keys')
    .option('--json', 'print the keys as JSON')
    .action(async (options: { tenant?: string; json?: boolean }) => {
      const { keys: listed } = await withGrid(program, async (client) => resultOf(program, await client.send(ListApiKeys, options.tenant ? { tenant: options.tenant } : {})));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(listed)}\n`);
        return;
      }
      process.stdout.write(
        `${table([
          ['KEY', 'NAME', 'TENANT', 'SCOPES', 'ISSUED', 'REVOKED'],
          ...listed.map((key) => [key.keyId, key.name, key.tenant ?? '-', key.scopes.join(','), key.issuedAt, key.revokedAt ?? '']),
        ])}\n`,
      );
    });

  keys
    .command('revoke')
    .description('refuse a key from now on')
    .argument('<key-id>', 'the 16 hex characters after myc_')
    .option('--reason <text>', 'why, for the record', 'revoked by an operator')
    .option('--json', 'print the result as JSON')
    .action(async (keyId: string, options: { reason: string; json?: boolean }) => {
      const result = await withGrid(program, async (client) => resultOf(program, await client.send(RevokeApiKey, { keyId, reason: options.reason })));
      process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `key ${keyId} ${result.revoked ? 'revoked' : 'was revoked already'}\n`);
    });
}
