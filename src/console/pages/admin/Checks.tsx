/** A labelled group of checkboxes (purposes, classifications, inherited roles). */
import { useId } from 'preact/hooks';

export function Checks(props: { legend: string; options: readonly string[]; value: string[]; onValue: (v: string[]) => void }) {
  const id = useId();
  return (
    <fieldset class="checks">
      <legend>{props.legend}</legend>
      {props.options.map((o, i) => (
        <label key={o} for={`${id}-${i}`}>
          <input
            id={`${id}-${i}`}
            type="checkbox"
            checked={props.value.includes(o)}
            onChange={(e) => props.onValue((e.target as HTMLInputElement).checked ? [...props.value, o] : props.value.filter((x) => x !== o))}
          />{' '}
          {o}
        </label>
      ))}
    </fieldset>
  );
}
