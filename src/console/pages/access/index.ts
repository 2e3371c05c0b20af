import type { PageDef } from '../types.ts';

export const accessPages: PageDef[] = [];
