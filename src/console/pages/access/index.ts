import type { PageDef } from '../types.ts';
import { DatasetReach } from './DatasetReach.tsx';
import { Inbox } from './Inbox.tsx';
import { MyAccess } from './MyAccess.tsx';
import { MyRequests } from './MyRequests.tsx';
import { PrincipalAccess } from './PrincipalAccess.tsx';
import { RequestDetail } from './RequestDetail.tsx';

// Reading anyone's reach needs catalog:read or audit:read (src/decisions/readReach.ts); the rest is open to every person, and the API decides what each sees.
const REACH = ['catalog:read', 'audit:read'];

export const accessPages: PageDef[] = [
  { path: '/access/principals', title: 'Who can reach what', nav: 'Access', anyOf: REACH, component: PrincipalAccess },
  { path: '/access/datasets', title: 'Dataset reach', nav: 'Access', anyOf: REACH, component: DatasetReach },
  { path: '/access/mine', title: 'Your access', nav: 'Access', component: MyAccess },
  { path: '/access/inbox', title: 'Requests to approve', nav: 'Access', component: Inbox },
  { path: '/access/requests', title: 'Your requests', nav: 'Access', component: MyRequests },
  { path: '/access/requests/:id', title: 'Access request', component: RequestDetail },
];
