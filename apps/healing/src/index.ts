export { HealingModule } from './healing.module.js';
export { healingService } from './healing.service.js';
