/**
 * `node bench/replicas/proxy.ts PORT HOST:PORT...`: a round-robin TCP proxy
 * on the loopback address, as a layer-4 load balancer (a Kubernetes Service
 * through kube-proxy) spreads connections: each new client connection goes
 * to the next backend in turn and stays there; bytes are piped both ways
 * untouched. It runs in its own process so its CPU is counted apart from the
 * load generator's. Prints `proxy ready` once listening.
 */
import net from 'node:net';

const [port, ...backends] = process.argv.slice(2);
if (!port || !backends.length) {
  process.stderr.write('usage: node bench/replicas/proxy.ts PORT HOST:PORT...\n');
  process.exit(2);
}
const targets = backends.map((b) => {
  const i = b.lastIndexOf(':');
  return { host: b.slice(0, i), port: Number(b.slice(i + 1)) };
});
let next = 0;

const server = net.createServer((client) => {
  const upstream = net.connect(targets[next++ % targets.length]!);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  // Either side going away ends the other: no half-open pairs left behind.
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('proxy ready\n'));
process.on('SIGTERM', () => process.exit(0));
