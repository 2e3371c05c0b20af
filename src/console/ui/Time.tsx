/** A moment in the viewer's own time zone, with the UTC time on hover and for assistive technology. */
const local = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatLocal(iso: string | Date): string {
  return local.format(typeof iso === 'string' ? new Date(iso) : iso);
}

export function Time({ value }: { value: string | Date | null | undefined }) {
  if (!value) return <span>—</span>;
  const d = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) return <span>{String(value)}</span>;
  const utc = d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return (
    <time dateTime={d.toISOString()} title={utc}>
      {local.format(d)}
    </time>
  );
}
