import { defineEvent } from '../registry.js';
import { TierChangeV1 } from './shared.js';

export const NodePromoted = defineEvent({
  service: 'spores',
  aggregate: 'node',
  name: 'node-promoted',
  version: 1,
  payload: TierChangeV1,
  description: 'A node moved up a tier by a written rule (uptime, resources, trust); the reason names the rule.',
});
