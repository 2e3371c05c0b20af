/**
 * `custos admin add USERNAME`: the host operator adds administrators until
 * there are two, so dual control has its second person (refused after).
 *
 * `custos admin recover USERNAME`: the host operator's way back in when no
 * administrator can sign in (say the first administrator's enrollment
 * secret expired unused). Prints a fresh one-time enrollment secret once, on
 * standard output; redeeming it removes the account's old factors, sessions
 * and secrets. Audited (actor null, via 'cli', the OS user) and announced on
 * the webhook. Refused while another administrator can still sign in.
 */
import os from 'node:os';
import type { Command } from 'commander';
import { addAdministrator } from '../auth/addAdministrator.ts';
import { recoverAdministrator } from '../auth/recoverAdministrator.ts';
import { withContext } from './context.ts';

/** The operating-system account running the command (recorded in the audit event). */
function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    // No passwd entry (some containers): the numeric id still says who it was.
    return `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

/** Registers `custos admin …`. */
export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('host-side administrators: the second one, and recovery');

  admin
    .command('add')
    .description('create an administrator with a one-time enrollment secret while fewer than two exist, so a second person can approve (audited)')
    .argument('<username>', 'login name of the new administrator')
    .option('--display-name <name>', 'how the person is shown')
    .option('--json', 'print the result as JSON (for automation)')
    .action(async (username: string, opts: { displayName?: string; json?: boolean }) => {
      await withContext(async ({ wired }) => {
        const r = await addAdministrator(wired.catalogOps, { username, displayName: opts.displayName, osUser: osUser(), host: os.hostname() });
        // Printed once, deliberately not through the logger, so it never lands in log storage.
        if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
        else process.stdout.write(`Administrator ${r.username} created.\nOne-time enrollment secret (shown only now, expires ${r.expires_at}):\n  ${r.secret}\n`);
      });
    });

  admin
    .command('recover')
    .description('issue a recovery enrollment secret for an administrator when no administrator can sign in (audited)')
    .argument('<username>', 'login name of the administrator')
    .option('--json', 'print the result as JSON (for automation)')
    .action(async (username: string, opts: { json?: boolean }) => {
      await withContext(async ({ wired }) => {
        const r = await recoverAdministrator(wired.auth, { username, osUser: osUser(), host: os.hostname() });
        // Printed once, deliberately not through the logger, so it never lands in log storage.
        if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
        else
          process.stdout.write(
            `Recovery for administrator ${r.username}.\nOne-time enrollment secret (shown only now, expires ${r.expires_at}):\n  ${r.secret}\n` +
              `Redeeming it (POST /v1/auth/enroll) removes the account's factors, sessions and other secrets.\n`,
          );
      });
    });
}
