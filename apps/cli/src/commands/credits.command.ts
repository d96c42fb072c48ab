import type { Command } from 'commander';
import {
  type CommandReply,
  CREDIT_AMOUNT,
  DEFAULT_LEDGER_LIMIT,
  DEFAULT_TENANT,
  GetAccount,
  GetLedger,
  type LedgerLine,
  MAX_LEDGER_LIMIT,
  TENANT,
  TopUpCredits,
} from '@mycelium/contracts';
import { connectToGrid } from '../context.js';
import { table } from '../output.js';

interface Output {
  write(text: string): unknown;
}

interface CreditsOptions {
  tenant?: string;
  json?: boolean;
}


function ledgerTable(entries: LedgerLine[]): string {
  return table([
    ['AT', 'TYPE', 'DEBIT', 'CREDIT', 'AMOUNT', 'REFERENCE'],
    ...entries.map((entry) => [entry.at, entry.type, entry.debit, entry.credit, entry.amount, entry.reference ?? '']),
  ]);
}

/** `myc credits`: a tenant's balance, adding credits, and the ledger, over NATS. */
export function defineCreditsCommand(program: Command, output: Output = process.stdout): void {
  const fail = (message: string): never => program.error(`myc: ${message}`);

  /** The tenant named (or `default`), refused early when it cannot be one. */
  const tenantOf = (options: CreditsOptions): string => {
    const tenant = options.tenant ?? DEFAULT_TENANT;
    if (!TENANT.test(tenant)) fail(`--tenant must be lower-case letters, digits and inner dashes, not ${tenant}`);
    return tenant;
  };

  /** Runs `ask` against the grid and returns its result, or says what went wrong and exits non-zero. */
  const withGrid = async <T>(ask: (grid: Awaited<ReturnType<typeof connectToGrid>>) => Promise<CommandReply<T>>): Promise<T> => {
    const grid = await connectToGrid().catch((error: unknown) => fail((error as Error).message));
    try {
      const reply = await ask(grid);
      if (!reply.ok) return fail(`${reply.error.message}${reply.error.field ? ` (${reply.error.field})` : ''}`);
      return reply.result;
    } finally {
      await grid.close();
    }
  };

  const credits = program
    .command('credits')
    .description('a tenant’s credits: the balance (add: top up; ledger: every movement)')
    .option('--tenant <tenant>', `whose account (default: ${DEFAULT_TENANT})`)
    .option('--json', 'print the account as JSON')
    .action(async (options: CreditsOptions) => {
      const tenant = tenantOf(options);
      const account = await withGrid((grid) => grid.client.send(GetAccount, { tenant }));
      if (options.json) {
        output.write(`${JSON.stringify(account, null, 2)}\n`);
        return;
      }
      const { code, name, usdRate } = account.currency;
      output.write(`${tenant}: ${account.balance} ${code} to spend, ${account.reserved} ${code} reserved (${name}; 1 ${code} = ${usdRate} USD)\n`);
      if (account.balance === '0' && account.reserved === '0') output.write(`add credits with: myc credits add <amount> --reference <payment id> --tenant ${tenant}\n`);
    });

  credits
    .command('add <amount>')
    .description('add credits to an account, once per payment reference')
    .requiredOption('--reference <reference>', 'the payment’s own id: sending the same one again credits nothing more')
    .option('--tenant <tenant>', `whose account (default: ${DEFAULT_TENANT})`)
    .option('--json', 'print the result as JSON')
    .action(async (amount: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<CreditsOptions & { reference: string }>();
      if (!CREDIT_AMOUNT.test(amount) || !/[1-9]/.test(amount)) fail(`the amount must be a decimal such as 25 or 12.50 (more than zero, at most 8 decimals), not ${amount}`);
      if (options.reference.length < 1 || options.reference.length > 200) fail('--reference must be 1 to 200 characters');
      const tenant = tenantOf(options);
      const result = await withGrid((grid) => grid.client.send(TopUpCredits, { tenant, amount, reference: options.reference }));
      if (options.json) output.write(`${JSON.stringify(result, null, 2)}\n`);
      else if (result.credited) output.write(`credited ${amount} to ${tenant}: the balance is ${result.balance}\n`);
      else output.write(`${options.reference} was credited before, so nothing changed: the balance of ${tenant} is ${result.balance}\n`);
    });

  credits
    .command('ledger')
    .description('the newest movements of an account’s credits, oldest first')
    .option('--limit <n>', `how many of the newest entries, 1 to ${MAX_LEDGER_LIMIT}`, String(DEFAULT_LEDGER_LIMIT))
    .option('--tenant <tenant>', `whose account (default: ${DEFAULT_TENANT})`)
    .option('--json', 'print the entries as JSON')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<CreditsOptions & { limit: string }>();
      const limit = Number(options.limit);
      if (!/^\d+$/.test(options.limit) || limit < 1 || limit > MAX_LEDGER_LIMIT) fail(`--limit must be a whole number from 1 to ${MAX_LEDGER_LIMIT}, not ${options.limit}`);
      const tenant = tenantOf(options);
      const ledger = await withGrid((grid) => grid.client.send(GetLedger, { tenant, limit }));
      if (options.json) {
        output.write(`${JSON.stringify(ledger, null, 2)}\n`);
        return;
      }
      if (ledger.total === 0) {
        output.write(`${tenant} has no ledger entries yet: myc credits add <amount> --reference <payment id> --tenant ${tenant}\n`);
        return;
      }
      output.write(`${ledgerTable(ledger.entries)}\n`);
      if (ledger.entries.length < ledger.total) {
        const more = limit < MAX_LEDGER_LIMIT ? `; --limit ${Math.min(ledger.total, MAX_LEDGER_LIMIT)} shows more` : '';
        output.write(`(the newest ${ledger.entries.length} of ${ledger.total} entries${more})\n`);
      }
    });
}
