import { readFileSync } from 'node:fs';
import type { SeedSnapshotV1 } from '@mycelium/contracts';
import { openEnvelope } from '@mycelium/identity';
import { waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSporesFixture, type SporesFixture } from '../spores.fixture.js';

describe('seed exporter', () => {
  let grid: SporesFixture;
  beforeAll(async () => {
    grid = await openSporesFixture({ seedRefreshMs: 300 });
    await grid.start();
  });
  afterAll(() => grid?.dispose());

  const issuedAt = () => {
    try {
      return openEnvelope<SeedSnapshotV1>(JSON.parse(readFileSync(grid.seedFile, 'utf8')), grid.network.info.publicKey).issuedAt;
    } catch {
      return undefined;
    }
  };

  it('writes a fresh snapshot on a quiet grid too, so agents never hold only a stale one', async () => {
    const first = await waitFor(issuedAt, { what: 'the first snapshot' });
    const later = await waitFor(() => issuedAt() !== first && issuedAt(), { what: 'a newer snapshot with nothing changed', timeoutMs: 5000 });
    expect(Date.parse(later)).toBeGreaterThan(Date.parse(first));
  });
});
