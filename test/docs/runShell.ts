/**
 * Running a document's shell blocks as a reader would: `runBash` runs one
 * script and collects its output; `statefulScript` wraps a block so that it
 * starts from the variables and functions earlier blocks left (a state file
 * in `work`, next to a `baseline` list of the shell's own variables) and
 * saves them again, under `set -eo pipefail`.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

/** What a script did. */
export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `script` with bash in `cwd` with exactly `env`, killed after `timeoutMs`. */
export function runBash(script: string, o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `block` between restoring and saving the shell state kept in `work` (state.sh; baseline: the names not to save). */
export function statefulScript(block: string, work: string): string {
  const state = path.join(work, 'state.sh');
  return [
    `source ${JSON.stringify(state)}`,
    'set -eo pipefail',
    block,
    'set +eo pipefail',
    `{ for __v in $(compgen -v); do case "$__v" in __*) continue;; esac; grep -qxF "$__v" ${JSON.stringify(path.join(work, 'baseline'))} || declare -p "$__v"; done; declare -f; } | grep -v '^declare -[a-zA-Z]*r' > ${JSON.stringify(state + '.new')}`,
    `mv ${JSON.stringify(state + '.new')} ${JSON.stringify(state)}`,
  ].join('\n');
}
