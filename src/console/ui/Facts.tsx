/** A record's facts as a description list: `<Facts><Fact term="Kind">person</Fact>…</Facts>`. */
import type { ComponentChildren } from 'preact';

export function Facts({ children }: { children: ComponentChildren }) {
  return <dl class="facts">{children}</dl>;
}

/** One term and its description; `class` styles the description (an effect's colour). */
export function Fact({ term, class: cls, children }: { term: ComponentChildren; class?: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{term}</dt>
      <dd class={cls}>{children}</dd>
    </>
  );
}
