import type { PageDef } from '../types.ts';

export const adminPages: PageDef[] = [];
