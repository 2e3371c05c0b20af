/**
 * The test helpers' default password must pass the password policy for any
 * id and username, or a suite fails about once in a thousand runs.
 */
import { describe, expect, it } from 'vitest';
import { checkPasswordPolicy } from '../../src/auth/password.ts';
import { defaultPassword } from './app.ts';

describe('defaultPassword', () => {
  it('avoids a username that the id\'s last six hex digits spell', () => {
    const id = '7d0c2f4e-91aa-4c3b-8e55-0f12a03bea17';
    expect(id.replaceAll('-', '').slice(-6)).toContain('bea');
    const password = defaultPassword(id, 'bea');
    expect(password).not.toContain('bea');
    expect(() => checkPasswordPolicy({ password, username: 'bea' })).not.toThrow();
  });

  it('is the same for the same person and differs between people', () => {
    const a = defaultPassword('11111111-1111-4111-8111-111111aaaaaa', 'ann');
    expect(defaultPassword('11111111-1111-4111-8111-111111aaaaaa', 'ann')).toBe(a);
    expect(defaultPassword('11111111-1111-4111-8111-111111bbbbbb', 'ann')).not.toBe(a);
  });
});
