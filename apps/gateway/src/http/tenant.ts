import { createParamDecorator, type ExecutionContext, HttpException } from '@nestjs/common';
import { DEFAULT_TENANT, TENANT } from '@mycelium/contracts';
import type { ApiKeyHolder } from '../keys/api-keys.js';

/**
 * The tenant a request acts for: its key's. A key that names none (the local grid's admin key)
 * acts for `default`; an admin key may act for any tenant with `?tenant=`.
 */
export function tenantOf(request: { apiKey?: ApiKeyHolder; query?: Record<string, unknown> }): string {
  const key = request.apiKey;
  const asked = request.query?.tenant;
  if (asked !== undefined) {
    if (!key?.scopes.includes('admin')) {
      throw new HttpException({ error: { code: 'FORBIDDEN', message: 'only an admin key may act for another tenant (?tenant=)', field: 'tenant' } }, 403);
    }
    if (typeof asked !== 'string' || !TENANT.test(asked)) {
      throw new HttpException({ error: { code: 'VALIDATION_FAILED', message: 'tenant must be a DNS label: lower-case letters, digits and inner dashes', field: 'tenant' } }, 400);
    }
    return asked;
  }
  return key?.tenant ?? DEFAULT_TENANT;
}

/** `@Tenant() tenant: string` in a handler: see tenantOf. */
export const Tenant = createParamDecorator((_data: unknown, context: ExecutionContext) => tenantOf(context.switchToHttp().getRequest()));
