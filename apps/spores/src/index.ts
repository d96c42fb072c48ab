export { SporesModule } from './spores.module.js';
export { sporesService } from './spores.service.js';
