/**
 * The serving heap settings (src/heapSettings.ts): added to a process's
 * flags unless the operator gave the same flag, in any spelling or value.
 */
import { describe, expect, it } from 'vitest';
import { SERVING_V8_FLAGS, servingFlagsMissing } from '../src/heapSettings.ts';

describe('serving heap settings', () => {
  it('are all added to a command line without them', () => {
    expect(servingFlagsMissing([])).toEqual([...SERVING_V8_FLAGS]);
    expect(servingFlagsMissing(['--import', 'tsx', '--max-old-space-size=2048'])).toEqual([...SERVING_V8_FLAGS]);
  });

  it.each([
    ['another growth', ['--heap-growing-percent=50'], ['--no-memory-reducer']],
    ['the underscore spelling', ['--heap_growing_percent=30'], ['--no-memory-reducer']],
    ['the reducer switched on', ['--memory-reducer'], ['--heap-growing-percent=100']],
    ['the reducer switched off', ['--no-memory-reducer'], ['--heap-growing-percent=100']],
    ['both', ['--memory_reducer', '--heap-growing-percent=200'], []],
  ])('leave the operator’s choice alone: %s', (_what, given, added) => {
    expect(servingFlagsMissing(given)).toEqual(added);
  });
});
