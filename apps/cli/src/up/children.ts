import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
let hooked = false;

/**
 * Makes sure `child` does not outlive this process, however it ends (an error, a second Ctrl-C):
 * on exit it gets SIGTERM, which every process `myc` starts stops cleanly on.
 */
export function stopOnExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const running of children) running.kill('SIGTERM');
  });
}
