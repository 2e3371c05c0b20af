/** Every page, by area; each area's index.ts lists its own. */
import { accessPages } from './access/index.ts';
import { adminPages } from './admin/index.ts';
import { mePages } from './me/index.ts';
import { reviewPages } from './review/index.ts';
import type { PageDef } from './types.ts';

export const PAGES: PageDef[] = [...reviewPages, ...accessPages, ...adminPages, ...mePages];
export const SECTIONS = ['Review', 'Access', 'Administration', 'You'] as const;
