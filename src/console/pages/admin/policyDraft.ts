/** A policy draft (rule documents and test files by name) compared with the live version. */
import { createTwoFilesPatch } from 'diff';
import type { Files } from './types.ts';

export interface Draft {
  documents: Files;
  tests: Files;
}

export interface DraftFileDiff {
  group: 'documents' | 'tests';
  name: string;
  status: 'added' | 'removed' | 'changed';
  unified: string;
}

/** Unified diffs (3 lines of context, as the server's diff) of every file the draft adds, removes or changes. */
export function diffDraft(live: Draft, draft: Draft): DraftFileDiff[] {
  const out: DraftFileDiff[] = [];
  for (const group of ['documents', 'tests'] as const) {
    const a = live[group];
    const b = draft[group];
    for (const name of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const before = a[name];
      const after = b[name];
      if (before === after) continue;
      out.push({
        group,
        name,
        status: before === undefined ? 'added' : after === undefined ? 'removed' : 'changed',
        unified: createTwoFilesPatch(before === undefined ? '/dev/null' : `a/${name}`, after === undefined ? '/dev/null' : `b/${name}`, before ?? '', after ?? '', undefined, undefined, { context: 3 }),
      });
    }
  }
  return out;
}

/** "documents/default.yaml" → ['documents', 'default.yaml']. */
export function splitKey(key: string): ['documents' | 'tests', string] {
  const i = key.indexOf('/');
  return [key.slice(0, i) as 'documents' | 'tests', key.slice(i + 1)];
}
