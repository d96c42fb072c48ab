import { defineService } from '@mycelium/messaging';
import { HealingModule } from './healing.module.js';

export const healingService = defineService({ name: 'healing', module: HealingModule });
