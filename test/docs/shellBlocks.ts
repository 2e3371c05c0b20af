/**
 * Reads the runnable examples out of a Markdown document: its fenced `sh`
 * blocks, and the output each one shows as `# ` lines at the start of a line.
 * Other fences (`text`, plain ones) are illustrations and are not run.
 */

/** A fenced `sh` block: its text and the line of the document it starts on. */
export interface ShellBlock {
  text: string;
  line: number;
}

/** An output line a block shows, and the pattern its output must match. */
export interface ShownOutput {
  line: string;
  pattern: RegExp;
}

/** The document's ```sh blocks, in order (indented ones in lists included). */
export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const out: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```sh\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(Math.min(indent, lines[j]!.length - lines[j]!.trimStart().length)));
    if (j === lines.length) throw new Error(`unclosed sh block at line ${i + 1}`);
    out.push({ text: body.join('\n'), line: i + 1 });
    i = j;
  }
  return out;
}

/**
 * The output a block shows: each `# ` line is a fragment that must appear in
 * the block's standard output after the previous one; `…` matches anything
 * (on one line or across lines). A line that is only `…` shows nothing.
 */
export function expectedOutputs(block: string): ShownOutput[] {
  const out: ShownOutput[] = [];
  for (const raw of block.split('\n')) {
    if (!raw.startsWith('# ')) continue;
    const line = raw.slice(2).trim();
    if (line.replaceAll('…', '').trim() === '') continue;
    const source = line
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[\\s\\S]*?');
    out.push({ line, pattern: new RegExp(source) });
  }
  return out;
}
