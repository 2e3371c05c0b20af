import type { Me } from '../me.ts';
import type { PageDef } from './types.ts';

export const visible = (p: PageDef, me: Me): boolean => !p.anyOf || p.anyOf.some((x) => me.permissions.includes(x));
