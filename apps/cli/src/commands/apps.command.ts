import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { type AppView, DEFAULT_TENANT, DeleteApp, DeployApp, ErrorCodes, GetApp, GetAppLogs, ListApps, RollbackApp, ScaleApp, StopApp, UpdateApp } from '@mycelium/contracts';
import type { CommandClient } from '@mycelium/messaging';
import { parseDuration, readGridFile } from '../context.js';
import { fail, table, withGrid } from '../output.js';
import { sinceOf } from './events.command.js';
import { describeStep, followRollout } from './rollout.js';

/** Where the local grid's ingress serves an app. */
export function appUrl(app: { name: string; tenant: string }): string {
  const ingress = readGridFile()?.ingress ?? 'http://127.0.0.1:8081';
  const port = new URL(ingress).port || '80';
  return `http://${app.name}.${app.tenant}.localhost:${port}/`;
}

/**
 * `./file` arguments of the command become absolute paths when the file is beside the spec: the
 * local grid's nodes share this machine's disk, and a replica runs in a working directory of its own.
 */
export function resolveLocalPaths(spec: Record<string, unknown>, base: string): void {
  const workload = spec.workload as { command?: unknown } | undefined;
  if (!Array.isArray(workload?.command)) return;
  workload.command = workload.command.map((arg: unknown) => (typeof arg === 'string' && arg.startsWith('./') && existsSync(resolve(base, arg)) ? resolve(base, arg) : arg));
}

interface TenantOptions {
  tenant: string;
  json?: boolean;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

/** An app by id, or by name within the tenant. */
async function resolveApp(program: Command, client: CommandClient, tenant: string, ref: string): Promise<AppView> {
  if (/^app_[0-9a-z]+$/.test(ref)) {
    const reply = await client.send(GetApp, { tenant, appId: ref });
    return reply.ok ? reply.result : fail(program, reply.error);
  }
  const reply = await client.send(ListApps, { tenant, name: ref });
  if (!reply.ok) return fail(program, reply.error);
  const live = reply.result.apps.filter((app) => !['stopped', 'failed', 'suspended'].includes(app.status));
  const app = live.at(-1) ?? reply.result.apps.at(-1);
  return app ?? program.error(`myc: tenant ${tenant} has no app named ${ref}: see \`myc apps\``);
}

function summary(apps: AppView[]): string {
  return table([
    ['NAME', 'ID', 'VERSION', 'STATUS', 'REPLICAS', 'STRATEGY', 'URL'],
    ...apps.map((app) => [app.name, app.appId, app.version, app.status, `${app.healthyReplicas}/${app.desiredReplicas}`, app.strategy, app.status === 'stopped' ? '' : appUrl(app)]),
  ]);
}

function details(app: AppView): string {
  return [
    summary([app]),
    '',
    `tenant ${app.tenant}; ${app.resources.cpu} cpu, ${app.resources.memoryMiB} MiB, ${app.resources.storageGiB} GiB per replica; created ${app.createdAt}`,
    ...(app.rollout ? [`rollout: ${app.rollout.kind} to ${app.rollout.version}, ${app.rollout.step} (since ${app.rollout.startedAt})`] : []),
    ...(app.lastFailure ? [`last failure: ${app.lastFailure.code}: ${app.lastFailure.reason} (${app.lastFailure.at})`] : []),
    '',
    app.replicas.length === 0
      ? 'no replicas'
      : table([['REPLICA', 'NODE', 'REGION', 'VERSION', 'STATUS', 'ADDRESS'], ...app.replicas.map((replica) => [replica.replicaId, replica.nodeId, replica.region, replica.version, replica.status, replica.address ?? ''])]),
    '',
  ].join('\n');
}

export function defineAppsCommands(program: Command): void {
  const tenantOption = ['--tenant <tenant>', 'the tenant to act for', DEFAULT_TENANT] as const;

  program
    .command('deploy')
    .description('deploy an app from its spec, or roll it to the new version in the spec; shows the saga’s steps live')
    .requiredOption('-f, --file <app.json>', 'the app spec (see examples/hello/app.json)')
    .option(...tenantOption)
    .option('--timeout <duration>', 'how long to follow the rollout, e.g. 5m', '10m')
    .option('--json', 'print each event, then the app, as JSON lines')
    .action(async (options: TenantOptions & { file: string; timeout: string }) => {
      let spec: Record<string, unknown>;
      try {
        spec = JSON.parse(readFileSync(options.file, 'utf8')) as Record<string, unknown>;
      } catch (error) {
        return program.error(`myc: cannot read ${options.file}: ${(error as Error).message}`);
      }
      resolveLocalPaths(spec, dirname(resolve(options.file)));
      const timeoutMs = parseDuration(options.timeout) * 1000;
      await withGrid(program, async (client) => {
        let reply = await client.send(DeployApp, { tenant: options.tenant, spec });
        let before = 0;
        if (!reply.ok && reply.error.code === ErrorCodes.Conflict && typeof reply.error.details?.appId === 'string') {
          const appId = reply.error.details.appId;
          const current = await client.send(GetApp, { tenant: options.tenant, appId });
          before = current.ok ? current.result.streamVersion : 0;
          if (!options.json) say(`${String(spec.name)} runs already (${appId}): rolling it to version ${String(spec.version)}`);
          reply = await client.send(UpdateApp, { tenant: options.tenant, appId, spec });
        }
        if (!reply.ok) return fail(program, reply.error);
        const { appId, rolloutId } = reply.result;
        if (!options.json) say(`${appId}  rollout ${rolloutId}`);
        const outcome = await followRollout(
          client,
          { tenant: options.tenant, appId, rolloutId },
          before,
          (event) => {
            if (options.json) say(JSON.stringify(event));
            else {
              const line = describeStep(event);
              if (line) say(line);
            }
          },
          { timeoutMs },
        ).catch((error: unknown) => program.error(`myc: ${(error as Error).message}`));
        const app = await client.send(GetApp, { tenant: options.tenant, appId });
        if (options.json && app.ok) say(JSON.stringify(app.result));
        if (!outcome.ok) {
          return program.error(`myc: the ${before === 0 ? 'deploy' : 'update'} failed: ${outcome.code}: ${outcome.reason}`, { exitCode: 1 });
        }
        if (!options.json && app.ok) say(`\n${app.result.name} ${outcome.version} is active: ${appUrl(app.result)}`);
      });
    });

  program
    .command('apps')
    .description('list the tenant’s apps')
    .option(...tenantOption)
    .option('--json', 'print the apps as JSON')
    .action(async (options: TenantOptions) => {
      await withGrid(program, async (client) => {
        const reply = await client.send(ListApps, { tenant: options.tenant });
        if (!reply.ok) return fail(program, reply.error);
        if (options.json) say(JSON.stringify(reply.result.apps, null, 2));
        else say(reply.result.apps.length === 0 ? 'no apps yet: deploy one with `myc deploy -f examples/hello/app.json`' : summary(reply.result.apps));
      });
    });

  program
    .command('status <app>')
    .description('one app (name or id): status, replicas, rollout')
    .option(...tenantOption)
    .option('--json', 'print the app as JSON')
    .action(async (ref: string, options: TenantOptions) => {
      await withGrid(program, async (client) => {
        const app = await resolveApp(program, client, options.tenant, ref);
        say(options.json ? JSON.stringify(app, null, 2) : details(app));
      });
    });

  program
    .command('scale <app> <replicas>')
    .description('change the number of replicas')
    .option(...tenantOption)
    .option('--json', 'print the app as JSON')
    .action(async (ref: string, count: string, options: TenantOptions) => {
      const replicas = Number(count);
      if (!Number.isInteger(replicas) || replicas < 1) return program.error('myc: replicas must be a whole number of at least 1 (to run none: myc stop)');
      await withGrid(program, async (client) => {
        const app = await resolveApp(program, client, options.tenant, ref);
        const reply = await client.send(ScaleApp, { tenant: options.tenant, appId: app.appId, replicas });
        if (!reply.ok) return fail(program, reply.error);
        say(options.json ? JSON.stringify(reply.result, null, 2) : `${app.name}: scaling ${app.desiredReplicas} → ${replicas}; follow it with \`myc status ${app.name}\``);
      });
    });

  program
    .command('rollback <app>')
    .description('return an app to the version and scale it had at a moment (a new rollout: history is kept)')
    .requiredOption('--to <time|position>', 'an RFC 3339 time, a log position, or 10m / 2h ago')
    .option(...tenantOption)
    .option('--timeout <duration>', 'how long to follow the rollout, e.g. 5m', '10m')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, options: TenantOptions & { to: string; timeout: string }) => {
      await withGrid(program, async (client) => {
        const app = await resolveApp(program, client, options.tenant, ref);
        const reply = await client.send(RollbackApp, { tenant: options.tenant, appId: app.appId, to: sinceOf(options.to) });
        if (!reply.ok) return fail(program, reply.error);
        const result = reply.result;
        if (result.action !== 'update' || !result.rolloutId) {
          say(options.json ? JSON.stringify(result) : result.action === 'none' ? `${app.name} runs ${result.version} × ${result.replicas} already, as it did then` : `${app.name}: scaling to ${result.replicas}, as it was then`);
          return;
        }
        if (!options.json) say(`${app.name}: rolling back to ${result.version} × ${result.replicas}  rollout ${result.rolloutId}`);
        const outcome = await followRollout(client, { tenant: options.tenant, appId: app.appId, rolloutId: result.rolloutId }, app.streamVersion, (event) => {
          const line = describeStep(event);
          if (line && !options.json) say(line);
        }, { timeoutMs: parseDuration(options.timeout) * 1000 }).catch((error: unknown) => program.error(`myc: ${(error as Error).message}`));
        if (options.json) say(JSON.stringify({ ...result, outcome }));
        if (!outcome.ok) return program.error(`myc: the rollback failed: ${outcome.code}: ${outcome.reason}`, { exitCode: 1 });
        if (!options.json) say(`\n${app.name} ${outcome.version} is active again`);
      });
    });

  for (const [name, contract, verb] of [
    ['stop', StopApp, 'stopping'],
    ['delete', DeleteApp, 'deleting'],
  ] as const) {
    program
      .command(`${name} <app>`)
      .description(name === 'stop' ? 'stop every replica of an app' : 'stop an app and remove it from lists (its history stays)')
      .option(...tenantOption)
      .option('--json', 'print the app as JSON')
      .action(async (ref: string, options: TenantOptions) => {
        await withGrid(program, async (client) => {
          const app = await resolveApp(program, client, options.tenant, ref);
          const reply = await client.send(contract, { tenant: options.tenant, appId: app.appId });
          if (!reply.ok) return fail(program, reply.error);
          say(options.json ? JSON.stringify(reply.result, null, 2) : `${app.name}: ${verb} ${app.replicas.length} replica${app.replicas.length === 1 ? '' : 's'}`);
        });
      });
  }

  program
    .command('logs <app>')
    .description('the newest log lines of an app’s replicas')
    .option(...tenantOption)
    .option('--replica <id>', 'only this replica')
    .option('--tail <n>', 'lines per replica', '100')
    .option('--json', 'print the lines as JSON')
    .action(async (ref: string, options: TenantOptions & { replica?: string; tail: string }) => {
      const tail = Number(options.tail);
      if (!Number.isInteger(tail) || tail < 1 || tail > 5000) return program.error('myc: --tail must be a whole number from 1 to 5000');
      await withGrid(program, async (client) => {
        const app = await resolveApp(program, client, options.tenant, ref);
        const reply = await client.send(GetAppLogs, { tenant: options.tenant, appId: app.appId, tail, ...(options.replica ? { replicaId: options.replica } : {}) });
        if (!reply.ok) return fail(program, reply.error);
        if (options.json) return say(JSON.stringify(reply.result.replicas, null, 2));
        for (const replica of reply.result.replicas) {
          if (replica.error) say(`[${replica.replicaId}] (no logs: ${replica.error})`);
          for (const line of replica.lines) say(`[${replica.replicaId}] ${line.at} ${line.stream === 'stderr' ? '!' : ' '} ${line.line}`);
        }
      });
    });
}
