/**
 * A unified diff shown line by line: added lines as <ins>, removed ones as
 * <del> (announced as such by assistive technology, and marked by more than
 * colour: the +/- stays), hunk headers muted.
 */
export function UnifiedDiff({ label, text }: { label: string; text: string }) {
  // jsdiff's separator line ("=====…") says nothing a reader needs.
  const lines = text.replace(/\n$/, '').split('\n').filter((l) => !/^={10,}$/.test(l));
  return (
    <pre class="diff" aria-label={label} tabIndex={0}>
      {lines.map((l, i) => {
        const line = `${l}\n`;
        if (l.startsWith('+++') || l.startsWith('---') || l.startsWith('===') || l.startsWith('Index:')) return <span key={i} class="muted">{line}</span>;
        if (l.startsWith('@@')) return <span key={i} class="hunk">{line}</span>;
        if (l.startsWith('+')) return <ins key={i}>{line}</ins>;
        if (l.startsWith('-')) return <del key={i}>{line}</del>;
        return <span key={i}>{line}</span>;
      })}
    </pre>
  );
}
