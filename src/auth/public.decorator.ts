import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'gateway:public-route';

/** Marks a controller or route as open even when gateway keys are configured (health checks). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
