/**
 * `custos audit verify | root-key | rotate-key | partitions | drop-partition`:
 * log integrity and retention, against the configured database (as its
 * owner); `verify --root-key` verifies independently, with the data alone.
 */
import type { Command } from 'commander';
import { dropPartition, listPartitions, partitionState } from '../audit/postgres/partitions.ts';
import { writeDropRecord } from '../audit/postgres/retentionDrops.ts';
import { readAnchorFiles } from '../audit/anchors.ts';
import { TrustedRoots } from '../audit/rootKey.ts';
import { verifyLogs, type VerifyProgress, type VerifyReport } from '../audit/postgres/verify.ts';
import { createSql } from '../db/client.ts';
import { ConflictError, ValidationError } from '../errors.ts';
import { withContext } from './context.ts';
import { transaction } from '../db/transaction.ts';

function parseTime(v: string | undefined, fallback: Date, name: string): Date {
  if (v === undefined) return fallback;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new ValidationError(`--${name} is not a time: ${v}`);
  return d;
}

/** Commander's collector of a repeatable option. */
const collect = (v: string, all: string[]) => [...all, v];

/** A one-line progress bar on stderr (only on a terminal). */
function progressBar(): { update(p: VerifyProgress): void; done(): void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  return {
    update(p) {
      const now = Date.now();
      if (!tty || now - last < 100) return;
      last = now;
      const width = 30;
      const filled = p.chains ? Math.round((p.chainsDone / p.chains) * width) : width;
      process.stderr.write(`\r${p.log.padEnd(12)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] chains ${p.chainsDone}/${p.chains}  records ${p.records.toLocaleString('en-US')}   `);
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

/** Registers `custos audit …`. */
export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('log integrity and retention');

  audit
    .command('verify')
    .description('recompute the hash chains, check the signed checkpoints and compare with anchors, between two times')
    .option('--from <time>', 'start (ISO 8601; default: 24 hours ago)')
    .option('--to <time>', 'end (ISO 8601; default: now)')
    .option('--anchors <file>', 'an anchor file to compare with (repeatable; default: CUSTOS_AUDIT_ANCHOR_FILE if set)', collect, [])
    .option(
      '--root-key <public-key>',
      'trust only this audit root (base64url; repeatable): verifies independently, with DATABASE_URL alone (any role that can read the logs; no encryption key, no key table)',
      collect,
      [],
    )
    .option('--json', 'print the report as JSON')
    .action(async (o: { from?: string; to?: string; anchors: string[]; rootKey: string[]; json?: boolean }) => {
      const to = parseTime(o.to, new Date(), 'to');
      const from = parseTime(o.from, new Date(to.getTime() - 86_400_000), 'from');
      const bar = progressBar();
      let report: VerifyReport;
      if (o.rootKey.length) {
        // Independent: pinned roots, the data and the anchors; nothing of the server's.
        const url = process.env.DATABASE_URL;
        if (!url) throw new ValidationError('Set DATABASE_URL to the database to verify.');
        const anchors = o.anchors.length ? await readAnchorFiles(o.anchors, { from, to }) : undefined;
        const sql = createSql({ url, max: 3, applicationName: 'custos-verify' });
        try {
          report = await verifyLogs({ sql, roots: new TrustedRoots(o.rootKey) }, { from, to }, (p) => bar.update(p), { anchors });
        } finally {
          await sql.end({ timeout: 5 });
        }
      } else {
        report = await withContext(async ({ wired, config }) => {
          const files = o.anchors.length ? o.anchors : config.audit.anchorFile ? [config.audit.anchorFile] : [];
          const r = await wired.app.auditLog.verify({ from, to }, (p) => bar.update(p), files.length ? await readAnchorFiles(files, { from, to }) : undefined);
          await wired.audit.record({ type: 'audit.verified', outcome: r.ok ? 'success' : 'failure', actorId: null, details: { from: r.from, to: r.to, records: r.records, problems: r.problems.length, via: 'cli' } });
          return r;
        });
      }
      bar.done();
      if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else {
        process.stdout.write(
          `${report.ok ? 'OK' : 'BROKEN'}: ${report.records.toLocaleString('en-US')} records in ${report.chains} chains, ${report.checkpoints} checkpoints` +
            `${report.anchors ? `, ${report.anchors.anchors} anchors` : ''}, ${report.from} – ${report.to}, ${report.seconds.toFixed(1)} s (${report.records_per_second.toLocaleString('en-US')} records/s)\n`,
        );
        for (const p of report.problems) {
          const seq = p.last_seq !== null && p.last_seq !== p.seq ? `seq ${p.seq}–${p.last_seq}` : `seq ${p.seq}`;
          process.stdout.write(`  ${p.kind.padEnd(22)} ${p.log} chain ${p.chain_id} ${seq}${p.record_id ? ` record ${p.record_id}` : ''}${p.at ? ` at ${p.at}` : ''}: ${p.detail}\n`);
        }
      }
      if (!report.ok) process.exitCode = 4;
    });

  audit
    .command('root-key')
    .description("print the audit root's public key and fingerprint, to pin in verifiers")
    .action(async () => {
      await withContext(async ({ wired }) => {
        const root = wired.app.auditLog.keys.root;
        process.stdout.write(`${root.publicKey}\nfingerprint sha256:${root.fingerprint}\n`);
      });
    });

  audit
    .command('rotate-key')
    .description('make a new checkpoint-signing key, certified by the audit root (audited); old keys stay published')
    .requiredOption('--by <name>', 'who is rotating it (recorded)')
    .action(async (o: { by: string }) => {
      await withContext(async ({ db, wired }) => {
        const cert = await transaction(db.sql, async (tx) => {
          const c = await wired.app.auditLog.keys.rotate(tx);
          await wired.audit.recordIn(tx, { type: 'audit.key_rotated', outcome: 'success', actorId: null, details: { kid: c.kid, root: c.root, by: o.by, via: 'cli' } });
          return c;
        });
        process.stdout.write(`new checkpoint key ${cert.kid}, certified by root ${cert.root}\n`);
      });
    });

  audit
    .command('partitions')
    .description('list the monthly partitions of the logs, with their row counts')
    .action(async () => {
      await withContext(async ({ db }) => {
        for (const r of await listPartitions(db.owner)) process.stdout.write(`${r.log.padEnd(13)} ${r.partition.padEnd(28)} ${r.bounds.padEnd(70)} ~${r.approxRows} rows\n`);
      });
    });

  audit
    .command('drop-partition')
    .description('drop one month of a log, only if it is older than the retention period (audited)')
    .argument('<log>', 'decision_log or audit_events')
    .argument('<month>', 'YYYY-MM')
    .requiredOption('--by <name>', 'who is dropping it (recorded)')
    .option('--yes', 'really drop it')
    .action(async (log: string, month: string, o: { by: string; yes?: boolean }) => {
      await withContext(async ({ db, wired, config }) => {
        if (log !== 'decision_log' && log !== 'audit_events') throw new ValidationError('The log is decision_log or audit_events.');
        const m = /^(\d{4})-(\d{2})$/.exec(month);
        if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) throw new ValidationError('The month is YYYY-MM.');
        const start = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
        const end = new Date(Date.UTC(Number(m[1]), Number(m[2]), 1));
        const cutoff = new Date();
        cutoff.setUTCMonth(cutoff.getUTCMonth() - config.audit.retentionMonths);
        if (end > cutoff) throw new ConflictError(`${log} ${month} is within the retention period (${config.audit.retentionMonths} months: nothing after ${cutoff.toISOString().slice(0, 10)} may be dropped).`);
        const partition = `${log}_${m[1]}${m[2]}`;
        const state = await partitionState(db.owner, log, partition);
        if (!state.exists) throw new ValidationError(`There is no partition ${partition}.`);
        // Oldest first: a dropped month in the middle would leave gaps that verification cannot tell from deletions.
        if (state.older) throw new ConflictError(`Drop the older months first (${state.older} is still there).`);
        if (!o.yes) {
          process.stdout.write(`would drop ${partition} (${log} ${month}); run again with --yes\n`);
          return;
        }
        const day = (d: Date) => d.toISOString().slice(0, 10);
        // The drop, its signed drop record and its audit event commit together, or not at all.
        await transaction(db.owner, async (tx) => {
          await dropPartition(tx, log, partition);
          // Signed with the audit key: verification excuses the gap only on a record it can verify.
          await writeDropRecord(tx, wired.app.auditLog.keys, { partition, log, monthStart: day(start), monthEnd: day(end), droppedAtMs: Date.now(), droppedBy: o.by });
          await wired.audit.recordIn(tx, { type: 'audit.partition_dropped', outcome: 'success', actorId: null, details: { log, month, partition, by: o.by, retention_months: config.audit.retentionMonths } });
        });
        process.stdout.write(`dropped ${partition}\n`);
      });
    });
}
