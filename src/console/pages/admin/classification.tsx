/** A dataset's derived classification, in words: what it is and why (never typed in; derived from the columns and records). */
import type { Dataset } from '../../api/types.ts';

const BASIS: Record<Dataset['classification_basis'], string> = {
  'safe-harbor': 'no identifier columns (Safe Harbor, §164.514(b)(2))',
  'expert-determination': 'identifier columns, under a current expert determination (§164.514(b)(1))',
  'limited-data-set': 'only dates and geography, under a data use agreement (§164.514(e))',
  'identifiers-present': 'identifier columns present',
};

const LABEL: Record<Dataset['classification'], string> = { deidentified: 'De-identified', limited: 'Limited data set', phi: 'PHI' };

export function ClassificationText({ d }: { d: Pick<Dataset, 'classification' | 'classification_basis'> }) {
  return (
    <span>
      <strong>{LABEL[d.classification]}</strong> <span class="muted">({BASIS[d.classification_basis]})</span>
    </span>
  );
}

/** The identifier columns of a dataset: "patient_name (names)". */
export function identifierColumns(d: Pick<Dataset, 'columns'>): string[] {
  return d.columns.filter((c) => c.category).map((c) => `${c.name} (${c.category})`);
}
