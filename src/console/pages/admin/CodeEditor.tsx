/**
 * A YAML editor (CodeMirror 6) that runs under the console's strict
 * Content-Security-Policy (`style-src 'self'`, no inline styles).
 *
 * CodeMirror injects its styles through style-mod. Mounted in a document,
 * style-mod adds a <style> element, which that policy blocks; mounted in a
 * shadow root, it uses a constructable stylesheet (adoptedStyleSheets),
 * which CSP does not govern. So the editor lives in an open shadow root of
 * its host element: no nonce, no 'unsafe-inline'. The console's colours
 * reach it through CSS custom properties, which inherit into the shadow tree;
 * test/console/admin-policy.test.ts fails on any CSP violation.
 *
 * Diagnostics come from the server's validation (`setDiagnostics`), and the
 * lint panel lists them as an accessible listbox ("Diagnostics"). Tab is
 * left to the browser (it moves focus on), so the editor is no keyboard trap.
 */
import { yaml } from '@codemirror/lang-yaml';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { closeLintPanel, lintGutter, openLintPanel, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { EditorSelection, EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { tags } from '@lezer/highlight';
import { basicSetup } from 'codemirror';
import { useEffect, useRef } from 'preact/hooks';

// Colours from the console's palette (styles.css, admin block), so both themes meet AA contrast.
const highlight = HighlightStyle.define([
  { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: 'var(--cm-key)' },
  { tag: [tags.string, tags.special(tags.string), tags.content], color: 'var(--cm-string)' },
  { tag: [tags.number, tags.bool, tags.null, tags.atom], color: 'var(--cm-atom)' },
  { tag: [tags.comment, tags.lineComment, tags.blockComment], color: 'var(--cm-comment)', fontStyle: 'italic' },
  { tag: [tags.keyword, tags.meta, tags.typeName, tags.labelName], color: 'var(--cm-keyword)' },
  { tag: [tags.punctuation, tags.separator, tags.squareBracket, tags.brace], color: 'var(--fg)' },
]);

const theme = EditorView.theme({
  '&': { color: 'var(--fg)', backgroundColor: 'var(--bg)', border: '1px solid var(--line)', borderRadius: '4px', fontSize: '0.9rem' },
  '&.cm-focused': { outline: '3px solid var(--focus)', outlineOffset: '2px' },
  // No inner scrolling (lines wrap; the page scrolls): a scrolling region would be one more stop for keyboard users.
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace', minHeight: '18rem' },
  '.cm-content': { caretColor: 'var(--fg)' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--fg)' },
  '.cm-gutters': { backgroundColor: 'var(--panel)', color: 'var(--muted)', borderRight: '1px solid var(--soft-line)' },
  '.cm-activeLine, .cm-activeLineGutter': { backgroundColor: 'var(--cm-active)' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: 'var(--cm-selection)' },
  '.cm-matchingBracket': { backgroundColor: 'var(--cm-selection)', color: 'var(--fg)' },
  '.cm-panels': { backgroundColor: 'var(--panel)', color: 'var(--fg)' },
  '.cm-panels.cm-panels-bottom': { borderTop: '1px solid var(--soft-line)' },
  '.cm-panel.cm-panel-lint ul [aria-selected]': { backgroundColor: 'var(--cm-selection)', color: 'var(--fg)' },
  '.cm-panel.cm-panel-lint ul:focus [aria-selected]': { backgroundColor: 'var(--accent)', color: 'var(--on-accent)' },
  // WCAG 2.5.8: a target of at least 24 by 24 pixels.
  '.cm-panel.cm-panel-lint [name=close]': { color: 'var(--fg)', minWidth: '24px', minHeight: '24px', fontSize: '1.2rem' },
  '.cm-diagnostic-error': { borderLeftColor: 'var(--danger)' },
  '.cm-tooltip': { backgroundColor: 'var(--panel)', color: 'var(--fg)', border: '1px solid var(--line)' },
  '.cm-foldPlaceholder': { backgroundColor: 'var(--panel)', color: 'var(--fg)', border: '1px solid var(--line)' },
});

/**
 * Typing over a selection that spans highlighted text: Chrome's own editing would first wrap the new
 * text in an element with a style attribute (to keep the look of what it replaced), which the CSP
 * blocks and reports. The editor makes that change itself instead, from its state, so the browser
 * never edits the DOM for it.
 */
const typeOverSelection = EditorView.domEventHandlers({
  beforeinput(e, view) {
    if (e.inputType !== 'insertText' || !e.data || view.state.selection.ranges.every((r) => r.empty)) return false;
    e.preventDefault();
    view.dispatch(view.state.replaceSelection(e.data), { userEvent: 'input.type', scrollIntoView: true });
    return true;
  },
});

export interface EditorHandle {
  /** Puts the cursor at a position and focuses the editor. */
  focusAt(pos: number): void;
}

export function CodeEditor(props: {
  /** The accessible name of the editing area. */
  label: string;
  /** Which text this is: a new key replaces the editor's content (another file, a reload). */
  docKey: string;
  value: string;
  onChange: (text: string) => void;
  diagnostics: Diagnostic[];
  handle?: { current: EditorHandle | undefined };
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | undefined>(undefined);
  const onChange = useRef(props.onChange);
  onChange.current = props.onChange;

  const stateFor = (text: string) =>
    EditorState.create({
      doc: text,
      extensions: [
        basicSetup,
        yaml(),
        syntaxHighlighting(highlight),
        lintGutter(),
        theme,
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': props.label }),
        typeOverSelection,
        EditorView.updateListener.of((u) => {
          if (u.docChanged) onChange.current(u.state.doc.toString());
        }),
      ],
    });

  useEffect(() => {
    const el = host.current!;
    const root = el.shadowRoot ?? el.attachShadow({ mode: 'open' });
    const v = new EditorView({ parent: root, root, state: stateFor(props.value) });
    view.current = v;
    if (props.handle)
      props.handle.current = {
        focusAt: (pos) => {
          v.dispatch({ selection: EditorSelection.cursor(Math.min(pos, v.state.doc.length)), scrollIntoView: true });
          v.focus();
        },
      };
    return () => {
      v.destroy();
      view.current = undefined;
    };
  }, []);

  // Another file (or a reload): new content, label and undo history. The first run is the mount's own state.
  const shownKey = useRef(props.docKey);
  useEffect(() => {
    const v = view.current;
    if (!v || shownKey.current === props.docKey) return;
    shownKey.current = props.docKey;
    v.setState(stateFor(props.value));
  }, [props.docKey]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    v.dispatch(setDiagnostics(v.state, props.diagnostics));
    if (props.diagnostics.length) {
      // The panel takes focus when it opens; leave it where the person is (the button they pressed, the file list).
      const active = document.activeElement;
      openLintPanel(v);
      if (active instanceof HTMLElement && active !== host.current && active !== document.body) active.focus();
    } else closeLintPanel(v);
  }, [props.diagnostics, props.docKey]);

  return <div ref={host} class="code-editor" />;
}
