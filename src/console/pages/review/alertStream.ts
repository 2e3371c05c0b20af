/**
 * Live alert changes from `GET /v1/alerts/stream` (Server-Sent Events).
 * EventSource cannot send the session's bearer token, so the stream is read
 * with fetch() through the API client (which adds the token and refreshes
 * the session), and parsed here. When the server ends it (a heartbeat found
 * the session over, a restart) it is opened again with `Last-Event-ID`, so
 * nothing in between is missed.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api/client.ts';

export interface AlertEvent {
  id: string | undefined;
  event: string;
  data: { event?: string; alert?: { id: string } };
}

/** Splits an event stream into events (`id:`, `event:`, `data:` lines; a blank line ends one; `:` lines are comments). */
export function sseParser(onEvent: (e: AlertEvent) => void): (chunk: string) => void {
  let buf = '';
  let id: string | undefined;
  let event = 'message';
  let data: string[] = [];
  return (chunk) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.search(/\r?\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(buf[nl] === '\r' ? nl + 2 : nl + 1);
      if (line === '') {
        if (data.length) {
          try {
            onEvent({ id, event, data: JSON.parse(data.join('\n')) as AlertEvent['data'] });
          } catch {
            // Not JSON: not an event of this API; skipped.
          }
        }
        event = 'message';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
  };
}

/** Follows the alert stream while the page is open; says whether it is connected. */
export function useAlertStream(onEvent: (e: AlertEvent) => void): 'connecting' | 'live' | 'offline' {
  const [state, setState] = useState<'connecting' | 'live' | 'offline'>('connecting');
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    const ctl = new AbortController();
    let last: string | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const open = async () => {
      try {
        const res = await api<Response>('GET', '/v1/alerts/stream', { raw: true, signal: ctl.signal, headers: { accept: 'text/event-stream', ...(last ? { 'last-event-id': last } : {}) } });
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        // Live from the stream's first bytes, not its headers: the server sends them once its
        // subscription is in force, so every change committed after this is on its way.
        let first = true;
        const feed = sseParser((e) => {
          if (e.id) last = e.id;
          handler.current(e);
        });
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (first) {
            first = false;
            setState('live');
          }
          feed(value);
        }
      } catch {
        // Refused, cut or aborted: offline until the next attempt.
      }
      if (ctl.signal.aborted) return;
      setState('offline');
      retry = setTimeout(() => void open(), 5_000);
    };
    void open();
    return () => {
      ctl.abort();
      clearTimeout(retry);
    };
  }, []);
  return state;
}
