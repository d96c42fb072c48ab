import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/**
 * Where a local grid's logs go: every JSON line to a file, and to the terminal either the same
 * lines (`json`) or only warnings and errors, readable (`human`).
 */
export class LogSink {
  readonly #file: WriteStream;

  constructor(
    readonly path: string,
    private readonly terminal: NodeJS.WritableStream,
    private readonly format: 'human' | 'json',
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.#file = createWriteStream(path, { flags: 'a' });
  }

  line(text: string): void {
    if (!text.trim()) return;
    this.#file.write(text.endsWith('\n') ? text : `${text}\n`);
    if (this.format === 'json') {
      this.terminal.write(text.endsWith('\n') ? text : `${text}\n`);
      return;
    }
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(text);
    } catch {
      this.terminal.write(`${text.trimEnd()}\n`);
      return;
    }
    const level = typeof entry.level === 'string' ? entry.level : 'info';
    if ((LEVELS[level] ?? 30) < LEVELS.warn!) return;
    const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
    const who = entry.service ?? entry.component ?? entry.name ?? '';
    const error = (entry.err as { message?: string } | undefined)?.message;
    this.terminal.write(`${time} ${level.toUpperCase().padEnd(5)} ${who}: ${String(entry.msg ?? '')}${error ? ` (${error})` : ''}\n`);
  }

  /** A stream a pino logger can write to. */
  stream(): Writable {
    let pending = '';
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        pending += chunk.toString();
        let newline = pending.indexOf('\n');
        while (newline >= 0) {
          this.line(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
          newline = pending.indexOf('\n');
        }
        done();
      },
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#file.end(resolve));
  }
}
