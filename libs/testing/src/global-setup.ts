import {
  DEFAULT_DATABASE_URL,
  DEFAULT_NATS_URL,
  dockerIsAvailable,
  jetStreamIsReachable,
  postgresIsReachable,
  testDatabaseUrl,
  testNatsUrl,
} from './infrastructure.js';

type Stop = () => Promise<unknown>;

/**
 * Integration and e2e tests need the real NATS (JetStream) and PostgreSQL. Use the ones configured
 * (or running locally); where none answers and a Docker engine exists, start them in containers.
 */
export default async function setup(): Promise<Stop> {
  const stops: Stop[] = [];
  if (!(await postgresIsReachable(testDatabaseUrl()))) {
    if (process.env.DATABASE_URL || !dockerIsAvailable()) {
      throw new Error(
        `PostgreSQL is not reachable at ${testDatabaseUrl()}: start it (infra/ensure-services.sh) or set DATABASE_URL`,
      );
    }
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('postgres:16-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    process.env.DATABASE_URL = `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/test`;
    stops.push(() => container.stop());
  }
  if (!(await jetStreamIsReachable(testNatsUrl()))) {
    if (process.env.NATS_URL || !dockerIsAvailable()) {
      throw new Error(
        `NATS with JetStream is not reachable at ${testNatsUrl()}: start it (infra/ensure-services.sh) or set NATS_URL`,
      );
    }
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('nats:2.10-alpine')
      .withCommand(['-js'])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start();
    process.env.NATS_URL = `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
    stops.push(() => container.stop());
  }
  process.env.DATABASE_URL ||= DEFAULT_DATABASE_URL;
  process.env.NATS_URL ||= DEFAULT_NATS_URL;
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}
