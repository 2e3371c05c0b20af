/**
 * The source addresses /metrics is served to without credentials
 * (CUSTOS_METRICS_ALLOW): addresses and CIDRs, matched with node's BlockList.
 */
import { BlockList, isIP } from 'node:net';

/** Whether an address (as the request's audit meta gives it) is on the list. */
export type SourceAllow = (address: string | undefined) => boolean;

/** An IPv4 address written in IPv6 (`::ffff:127.0.0.1`, how a dual-stack socket reports IPv4 peers). */
const MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** Builds the check for a list of addresses/CIDRs (validated by config.ts); an empty list allows nobody. */
export function sourceAllow(entries: readonly string[]): SourceAllow {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/') as [string, string | undefined];
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return (address) => {
    if (!address) return false;
    const v4 = MAPPED.exec(address)?.[1] ?? address;
    const family = isIP(v4);
    if (!family) return false;
    return list.check(v4, family === 4 ? 'ipv4' : 'ipv6');
  };
}
