import { defineEvent } from '../registry.js';
import { TierChangeV1 } from './shared.js';

export const NodeDemoted = defineEvent({
  service: 'spores',
  aggregate: 'node',
  name: 'node-demoted',
  version: 1,
  payload: TierChangeV1,
  description: 'A node moved down a tier by a written rule (uptime, resources, trust); the reason names the rule.',
});
