import type { Command } from 'commander';
import type { CommandReply } from '@mycelium/contracts';
import type { CommandClient } from '@mycelium/messaging';
import { connectToGrid } from './context.js';

/** Rows as aligned columns; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/** A command's failure as the CLI's: the message, the field, and a non-zero exit. */
export function fail(program: Command, error: { code?: string; message: string; field?: string }): never {
  return program.error(`myc: ${error.message}${error.field ? ` (${error.field})` : ''}${error.code ? ` [${error.code}]` : ''}`);
}

/** Runs `run` with a command client on the grid, closing the connection after. */
export async function withGrid<T>(program: Command, run: (client: CommandClient) => Promise<T>): Promise<T> {
  const grid = await connectToGrid().catch((error: unknown) => program.error(`myc: ${(error as Error).message}`));
  try {
    return await run(grid.client);
  } finally {
    await grid.close();
  }
}

/** A command's result, or its error as the CLI's. */
export function resultOf<T>(program: Command, reply: CommandReply<T>): T {
  return reply.ok ? reply.result : fail(program, reply.error);
}
