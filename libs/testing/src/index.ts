export {
  DEFAULT_DATABASE_URL,
  DEFAULT_NATS_URL,
  dockerIsAvailable,
  jetStreamIsReachable,
  postgresIsReachable,
  testDatabaseUrl,
  testNatsUrl,
} from './infrastructure.js';
export { dropSchema, openPGliteTestStore, openPostgresTestStore, uniqueName, type TestStore } from './isolation.js';
export { waitFor } from './wait.js';
export { openTestBus, type TestBus } from './bus.js';
export { requireBuilt, startProcess, type TestProcess } from './processes.js';
export { freePort, natsServerBinary, startNatsServer, type TestNatsServer } from './nats-server.js';
