import { defineService } from '@mycelium/messaging';
import { SporesModule } from './spores.module.js';

export const sporesService = defineService({ name: 'spores', module: SporesModule });
