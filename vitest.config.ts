import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

/**
 * Tests run from TypeScript source: the `@mycelium/source` export condition points every workspace
 * package at its `src/`, and SWC emits the decorator metadata NestJS DI needs.
 */
const shared = {
  plugins: [
    swc.vite({
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
        target: 'es2023',
      },
      module: { type: 'es6' },
    }),
  ],
  resolve: { conditions: ['@mycelium/source'] },
  ssr: { resolve: { conditions: ['@mycelium/source'] } },
};

const exclude = ['**/node_modules/**', '**/dist/**'];

export default defineConfig({
  ...shared,
  test: {
    projects: [
      {
        ...shared,
        test: { name: 'unit', include: ['**/*.unit.spec.ts'], exclude, sequence: { groupOrder: 0 } },
      },
      {
        ...shared,
        test: {
          name: 'int',
          include: ['**/*.int.spec.ts'],
          sequence: { groupOrder: 1 },
          exclude,
          globalSetup: ['libs/testing/src/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        ...shared,
        test: {
          name: 'e2e',
          include: ['**/*.e2e.spec.ts'],
          sequence: { groupOrder: 2 },
          exclude,
          globalSetup: ['libs/testing/src/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          // e2e files start whole grids of processes (six services, agents, replicas): one at a time,
          // so none starves another of the two cores and its timings stay those of a quiet machine.
          maxWorkers: 1,
        },
      },
    ],
  },
});
