/**
 * The body of a policy check worker thread (see checkInWorker.ts): runs each
 * job it is sent (checkJobs.ts) and posts the outcome. It warms up and says
 * when it is ready, so a job's deadline counts the job, not the loading of
 * modules.
 */
// Stryker disable all: this runs only in a worker thread, where mutants are never active; the jobs are in checkJobs.ts.
import { parentPort } from 'node:worker_threads';
import { runJob, warmUp, type CheckWorkerJob, type CheckWorkerMessage } from './checkJobs.ts';

const port = parentPort;
if (!port) throw new Error('checkWorker runs in a worker thread');
port.on('message', (job: CheckWorkerJob) => port.postMessage(runJob(job)));
warmUp();
port.postMessage({ kind: 'ready' } satisfies CheckWorkerMessage);
