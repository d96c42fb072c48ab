import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderContractArtifacts, SCHEMAS_DIR } from '../artifacts.js';
import { gridRegistry } from '../services.js';

/**
 * Writes contracts/asyncapi.yaml and contracts/schemas/*.json from the contract classes.
 * With --check it writes nothing and fails when the committed files are out of date.
 */
const contractsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { version } = JSON.parse(readFileSync(join(contractsDir, 'package.json'), 'utf8')) as { version: string };
const files = renderContractArtifacts(gridRegistry(), version);
const check = process.argv.includes('--check');

const stale: string[] = [];
for (const [path, content] of files) {
  const target = join(contractsDir, path);
  const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
  if (current === content) continue;
  stale.push(path);
  if (!check) {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}
const schemasDir = join(contractsDir, SCHEMAS_DIR);
for (const file of existsSync(schemasDir) ? readdirSync(schemasDir) : []) {
  if (files.has(`${SCHEMAS_DIR}/${file}`)) continue;
  stale.push(`${SCHEMAS_DIR}/${file} (no longer a contract)`);
  if (!check) rmSync(join(schemasDir, file));
}
if (check && stale.length > 0) {
  console.error(`contract documents are out of date: ${stale.join(', ')}\nrun: npm run contracts:generate`);
  process.exit(1);
}
console.log(stale.length === 0 ? 'contract documents are up to date' : `wrote ${stale.join(', ')}`);
