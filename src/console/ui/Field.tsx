/** A labelled input, select or textarea: the label is what tests and screen readers find it by. */
import type { ComponentChildren, InputHTMLAttributes } from 'preact';
import { useId } from 'preact/hooks';

type InputProps = InputHTMLAttributes<HTMLInputElement> & { type?: string } & { label: string; hint?: string; onValue?: (v: string) => void };

export function Field({ label, hint, onValue, ...input }: InputProps) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...input} onInput={(e) => onValue?.((e.target as HTMLInputElement).value)} />
      {hint && <small id={`${id}-hint`}>{hint}</small>}
    </div>
  );
}

export function Select(props: { label: string; value: string; onValue: (v: string) => void; children: ComponentChildren }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} value={props.value} onChange={(e) => props.onValue((e.target as HTMLSelectElement).value)}>
        {props.children}
      </select>
    </div>
  );
}

export function TextArea(props: { label: string; value: string; onValue: (v: string) => void; rows?: number; required?: boolean; minLength?: number }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <textarea id={id} rows={props.rows ?? 3} value={props.value} required={props.required} minLength={props.minLength} onInput={(e) => props.onValue((e.target as HTMLTextAreaElement).value)} />
    </div>
  );
}
