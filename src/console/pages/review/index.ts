import type { PageDef } from '../types.ts';

export const reviewPages: PageDef[] = [];
