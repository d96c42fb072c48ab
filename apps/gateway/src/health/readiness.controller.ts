import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../keys/api-key.guard.js';
import { ApiKeys } from '../keys/api-keys.js';

interface Reply {
  status(code: number): Reply;
  json(body: unknown): void;
}

/**
 * `/readyz`: whether this gateway can judge a key yet. Until it has loaded every key issued before
 * it started, an unknown key proves nothing (`myc up` waits for this before it distrusts its own).
 */
@ApiTags('health')
@Controller()
export class ReadinessController {
  constructor(private readonly keys: ApiKeys) {}

  @Get('readyz')
  @Public()
  @ApiOperation({ summary: 'Ready to check API keys (no key needed)' })
  @ApiResponse({ status: 200, description: 'every API key issued before this instance started is loaded' })
  @ApiResponse({ status: 503, description: 'still loading the keys, or retrying the event store (its logs say why)' })
  ready(@Res() reply: Reply): void {
    // Anyone may ask: the store's errors (hosts, users, schemas) stay in the logs.
    const { ready, state, failures } = this.keys.status();
    reply.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'starting', checks: { apiKeys: { ready, state, failures } } });
  }
}
