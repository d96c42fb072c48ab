import type { LogLine } from '@mycelium/contracts/workloads';

/** The newest `capacity` lines of a replica's output; older ones are dropped as new ones come. */
export class LogRing {
  readonly #lines: (LogLine | undefined)[];
  #next = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a log ring holds at least one line, not ${capacity}`);
    this.#lines = new Array<LogLine | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(line: LogLine): void {
    this.#lines[this.#next] = line;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** The newest `count` lines, oldest first. */
  tail(count: number): LogLine[] {
    const take = Math.max(0, Math.min(count, this.#size));
    const lines: LogLine[] = [];
    for (let index = this.#next - take; index < this.#next; index += 1) lines.push(this.#lines[(index + this.capacity) % this.capacity]!);
    return lines;
  }
}

/**
 * Splits a stream's chunks into lines. A line longer than `maxLength` is cut there and the rest
 * dropped up to its end: a program printing without newlines must not grow the agent's memory.
 */
export class LineSplitter {
  #partial = '';
  #overlong = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLength = 16 * 1024,
  ) {}

  write(chunk: string): void {
    let start = 0;
    for (let newline = chunk.indexOf('\n', start); newline !== -1; newline = chunk.indexOf('\n', start)) {
      this.#take(chunk.slice(start, newline));
      this.#flush();
      start = newline + 1;
    }
    this.#take(chunk.slice(start));
  }

  /** The last line, when the stream ends without a newline. */
  end(): void {
    if (this.#partial || this.#overlong) this.#flush();
  }

  #take(piece: string): void {
    if (this.#overlong) return;
    const room = this.maxLength - this.#partial.length;
    if (piece.length > room) {
      this.#partial += piece.slice(0, room);
      this.#overlong = true;
    } else {
      this.#partial += piece;
    }
  }

  #flush(): void {
    const line = this.#partial.endsWith('\r') ? this.#partial.slice(0, -1) : this.#partial;
    this.onLine(this.#overlong ? `${line} […]` : line);
    this.#partial = '';
    this.#overlong = false;
  }
}

/**
 * The newest of `lines` (oldest first) whose JSON fits in `maxBytes`, so a reply stays under the
 * bus's payload limit however long the lines are.
 */
export function newestWithin(lines: LogLine[], maxBytes: number): LogLine[] {
  let used = 2;
  let first = lines.length;
  while (first > 0) {
    // Each line after the first adds a comma.
    const size = Buffer.byteLength(JSON.stringify(lines[first - 1])) + (first < lines.length ? 1 : 0);
    if (used + size > maxBytes) break;
    used += size;
    first -= 1;
  }
  return lines.slice(first);
}
