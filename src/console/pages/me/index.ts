import type { PageDef } from '../types.ts';
import { Factors } from './Factors.tsx';

export const mePages: PageDef[] = [{ path: '/me/factors', title: 'Sign-in factors', nav: 'You', component: Factors }];
