import { Type } from 'class-transformer';
import { IsInt, IsString, Length, Min, ValidateNested } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { ContractViolation, ErrorCodes } from './errors.js';
import { ContractRegistry, defineCommand, defineEvent } from './registry.js';

class Resources {
  @IsInt()
  @Min(1)
  cpu!: number;
}

class AppDeployedV1 {
  @IsString()
  name!: string;
}

class AppDeployedV2 {
  @IsString()
  name!: string;

  @ValidateNested()
  @Type(() => Resources)
  resources!: Resources;
}

class AppDeployedV3 {
  @IsString()
  @Length(1, 20)
  appName!: string;

  @ValidateNested()
  @Type(() => Resources)
  resources!: Resources;
}

const v1 = defineEvent({ service: 'deployment', aggregate: 'app', name: 'app-deployed', version: 1, payload: AppDeployedV1, description: 'v1' });
const v2 = defineEvent({
  service: 'deployment',
  aggregate: 'app',
  name: 'app-deployed',
  version: 2,
  payload: AppDeployedV2,
  description: 'v2 adds resources',
  upcast: (previous) => ({ ...previous, resources: { cpu: 1 } }),
});
const v3 = defineEvent({
  service: 'deployment',
  aggregate: 'app',
  name: 'app-deployed',
  version: 3,
  payload: AppDeployedV3,
  description: 'v3 renames name to appName',
  upcast: ({ name, ...rest }) => ({ ...rest, appName: name }),
});

class ScaleAppV1 {
  @IsString()
  appId!: string;

  @IsInt()
  @Min(0)
  replicas!: number;
}

class ScaleAppV2 {
  @IsString()
  appId!: string;

  @IsInt()
  @Min(0)
  count!: number;
}

const scaleV1 = defineCommand({ service: 'deployment', name: 'app.scale', payload: ScaleAppV1, description: 'scale' });
const scaleV2 = defineCommand({
  service: 'deployment',
  name: 'app.scale',
  version: 2,
  payload: ScaleAppV2,
  description: 'scale',
  upcast: ({ replicas, ...rest }) => ({ ...rest, count: replicas }),
});

describe('contract registry - events', () => {
  const registry = new ContractRegistry([v1, v2, v3]);

  it('names types, subjects and versions from the definition', () => {
    expect(v2.type).toBe('mycelium.deployment.app-deployed.v2');
    expect(v2.subject).toBe('evt.deployment.app.app-deployed');
  });

  it('upcasts an old event through every version to the newest and validates it', () => {
    const decoded = registry.decodeEvent('mycelium.deployment.app-deployed.v1', { name: 'web' })!;
    expect(decoded.definition).toBe(v3);
    expect(decoded.writtenVersion).toBe(1);
    expect(decoded.payload).toBeInstanceOf(AppDeployedV3);
    expect(decoded.payload).toEqual({ appName: 'web', resources: { cpu: 1 } });
  });

  it('reads the newest version as is', () => {
    const decoded = registry.decodeEvent(v3.type, { appName: 'api', resources: { cpu: 4 } })!;
    expect(decoded.payload).toEqual({ appName: 'api', resources: { cpu: 4 } });
  });

  it('names the nested field that breaks a rule', () => {
    const attempt = () => registry.decodeEvent(v3.type, { appName: 'api', resources: { cpu: 0 } });
    expect(attempt).toThrow(ContractViolation);
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({ code: ErrorCodes.ValidationFailed, field: 'resources.cpu' });
      expect((error as Error).message).toMatch(/resources\.cpu must not be less than 1/);
    }
  });

  it('drops fields it does not know in events, for producers newer than the reader', () => {
    const decoded = registry.decodeEvent(v3.type, { appName: 'api', resources: { cpu: 2 }, addedLater: true })!;
    expect(decoded.payload).not.toHaveProperty('addedLater');
  });

  it('refuses a payload that is not an object', () => {
    expect(() => registry.decodeEvent(v3.type, 'text')).toThrow(ContractViolation);
  });

  it('returns undefined for a type it does not know', () => {
    expect(registry.decodeEvent('mycelium.deployment.app-vanished.v1', {})).toBeUndefined();
  });

  it('refuses to define the same type twice or a later version without an upcast', () => {
    expect(() => new ContractRegistry([v1, { ...v1 }])).toThrow(/defined twice/);
    expect(() =>
      defineEvent({ service: 'deployment', aggregate: 'app', name: 'app-deployed', version: 2, payload: AppDeployedV2, description: '' }),
    ).toThrow(/needs an upcast/);
    expect(() =>
      defineEvent({ service: 'Deployment', aggregate: 'app', name: 'x', version: 1, payload: AppDeployedV1, description: '' }),
    ).toThrow(/kebab-case/);
  });
});

describe('contract registry - commands', () => {
  const registry = new ContractRegistry([scaleV1, scaleV2]);

  it('validates the newest version and refuses unknown fields, naming them', () => {
    expect(registry.decodeCommand('cmd.deployment.app.scale', { appId: 'a', count: 3 })!.payload).toEqual({ appId: 'a', count: 3 });
    expect(() => registry.decodeCommand('cmd.deployment.app.scale', { appId: 'a', count: 3, replicsa: 2 })).toThrow(
      expect.objectContaining({ field: 'replicsa', message: 'property replicsa should not exist' }),
    );
  });

  it('upcasts a command sent as an older version', () => {
    const decoded = registry.decodeCommand('cmd.deployment.app.scale', { appId: 'a', replicas: 2 }, 1)!;
    expect(decoded.definition).toBe(scaleV2);
    expect(decoded.payload).toEqual({ appId: 'a', count: 2 });
  });

  it('refuses a version that does not exist', () => {
    expect(() => registry.decodeCommand('cmd.deployment.app.scale', {}, 7)).toThrow(expect.objectContaining({ field: 'version' }));
  });

  it('returns undefined for an unknown subject', () => {
    expect(registry.decodeCommand('cmd.deployment.app.explode', {})).toBeUndefined();
  });
});
