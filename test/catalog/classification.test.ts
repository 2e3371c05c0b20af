/**
 * deriveClassification: Safe Harbor, Expert Determination and limited data
 * sets, decided from the column schema and the records at a given UTC date.
 */
import { describe, expect, it } from 'vitest';
import { deriveClassification, utcDate, type ClassificationInput } from '../../src/catalog/classification.ts';
import { IDENTIFIER_CATEGORIES, LIMITED_DATA_SET_CATEGORIES, type IdentifierCategory } from '../../src/catalog/identifiers.ts';

const TODAY = '2026-06-01';

const col = (name: string, category?: IdentifierCategory) => (category ? { name, category } : { name });
const plain = [col('age_bucket'), col('diagnosis_code'), col('lab_value')];
const ed = (determinedOn: string, expiresOn: string) => ({ determinedOn, expiresOn });
const dua = (signedOn: string, expiresOn: string) => ({ signedOn, expiresOn });

function classify(input: ClassificationInput, today = TODAY) {
  return deriveClassification(input, today);
}

describe('Safe Harbor', () => {
  it('classifies a dataset without identifier columns as deidentified (safe-harbor)', () => {
    expect(classify({ columns: plain })).toEqual({ classification: 'deidentified', basis: 'safe-harbor', identifierCategories: [] });
  });

  it('treats null and undefined categories as no identifier', () => {
    const r = classify({ columns: [{ name: 'a', category: null }, { name: 'b', category: undefined }, { name: 'c' }] });
    expect(r.classification).toBe('deidentified');
    expect(r.basis).toBe('safe-harbor');
  });

  it('stays safe-harbor when there is nothing to determine, whatever records exist', () => {
    const r = classify({ columns: plain, expertDetermination: ed('2026-01-01', '2027-01-01'), dataUseAgreement: dua('2026-01-01', '2027-01-01') });
    expect(r.basis).toBe('safe-harbor');
  });

  it('knows exactly 18 identifier categories', () => {
    expect(IDENTIFIER_CATEGORIES).toHaveLength(18);
    expect(new Set(IDENTIFIER_CATEGORIES).size).toBe(18);
  });

  it.each(IDENTIFIER_CATEGORIES.map((c) => [c]))('one %s column without records makes the dataset phi', (category) => {
    const r = classify({ columns: [...plain, col('the_identifier', category)] });
    expect(r).toEqual({ classification: 'phi', basis: 'identifiers-present', identifierCategories: [category] });
  });

  it.each(IDENTIFIER_CATEGORIES.map((c) => [c]))('one %s column with explicitly null records is phi', (category) => {
    const r = classify({ columns: [col('x', category)], expertDetermination: null, dataUseAgreement: null });
    expect(r.classification).toBe('phi');
    expect(r.basis).toBe('identifiers-present');
  });
});

describe('Expert Determination', () => {
  const columns = [col('patient_name', 'names'), col('ssn', 'ssn'), col('visit', 'dates')];

  it('a current determination makes an identified schema deidentified (expert-determination)', () => {
    const r = classify({ columns, expertDetermination: ed('2026-01-01', '2027-01-01') });
    expect(r).toEqual({ classification: 'deidentified', basis: 'expert-determination', identifierCategories: ['dates', 'names', 'ssn'] });
  });

  it('is current on the day it was determined', () => {
    expect(classify({ columns, expertDetermination: ed(TODAY, '2026-12-31') }).basis).toBe('expert-determination');
  });

  it('is no longer current on its expiry day', () => {
    const r = classify({ columns, expertDetermination: ed('2025-06-01', TODAY) });
    expect(r.classification).toBe('phi');
    expect(r.basis).toBe('identifiers-present');
  });

  it('is current on the day before its expiry', () => {
    expect(classify({ columns, expertDetermination: ed('2025-06-01', '2026-06-02') }).classification).toBe('deidentified');
  });

  it('is not yet current the day before it was determined', () => {
    const r = classify({ columns, expertDetermination: ed('2026-06-02', '2027-06-02') });
    expect(r.classification).toBe('phi');
    expect(r.basis).toBe('identifiers-present');
  });

  it('is decided at the date given, not at the time of writing', () => {
    const input = { columns, expertDetermination: ed('2026-01-01', '2026-07-01') };
    expect(classify(input, '2026-06-30').classification).toBe('deidentified');
    expect(classify(input, '2026-07-01').classification).toBe('phi');
    expect(classify(input, '2025-12-31').classification).toBe('phi');
  });

  it('takes precedence over a data use agreement', () => {
    const r = classify({ columns: [col('zip', 'geographic'), col('dob', 'dates')], expertDetermination: ed('2026-01-01', '2027-01-01'), dataUseAgreement: dua('2026-01-01', '2027-01-01') });
    expect(r.classification).toBe('deidentified');
    expect(r.basis).toBe('expert-determination');
  });

  it('an expired determination falls back to a current data use agreement for a limited schema', () => {
    const r = classify({ columns: [col('zip', 'geographic')], expertDetermination: ed('2025-01-01', '2026-01-01'), dataUseAgreement: dua('2026-01-01', '2027-01-01') });
    expect(r.classification).toBe('limited');
    expect(r.basis).toBe('limited-data-set');
  });
});

describe('limited data set', () => {
  const current = dua('2026-01-01', '2027-01-01');

  it('only dates and geography under a current DUA is limited', () => {
    const r = classify({ columns: [...plain, col('admit', 'dates'), col('zip5', 'geographic')], dataUseAgreement: current });
    expect(r).toEqual({ classification: 'limited', basis: 'limited-data-set', identifierCategories: ['dates', 'geographic'] });
  });

  it.each([['dates'], ['geographic']] as const)('only %s under a current DUA is limited', (category) => {
    expect(classify({ columns: [col('x', category)], dataUseAgreement: current }).classification).toBe('limited');
  });

  it.each(IDENTIFIER_CATEGORIES.filter((c) => !LIMITED_DATA_SET_CATEGORIES.has(c)).map((c) => [c]))(
    'dates/geography plus a %s column is phi even under a current DUA',
    (category) => {
      const r = classify({ columns: [col('admit', 'dates'), col('zip5', 'geographic'), col('other', category)], dataUseAgreement: current });
      expect(r.classification).toBe('phi');
      expect(r.basis).toBe('identifiers-present');
    },
  );

  it('only the two limited categories are allowed in a limited data set', () => {
    expect([...LIMITED_DATA_SET_CATEGORIES].sort()).toEqual(['dates', 'geographic']);
  });

  it('an expired DUA makes it phi', () => {
    const r = classify({ columns: [col('admit', 'dates')], dataUseAgreement: dua('2025-01-01', '2026-05-31') });
    expect(r.classification).toBe('phi');
    expect(r.basis).toBe('identifiers-present');
  });

  it('a DUA is current on its signing day and not on its expiry day', () => {
    const columns = [col('admit', 'dates')];
    expect(classify({ columns, dataUseAgreement: dua(TODAY, '2027-01-01') }).classification).toBe('limited');
    expect(classify({ columns, dataUseAgreement: dua('2025-01-01', TODAY) }).classification).toBe('phi');
    expect(classify({ columns, dataUseAgreement: dua('2026-06-02', '2027-01-01') }).classification).toBe('phi');
  });

  it('without a DUA it is phi', () => {
    expect(classify({ columns: [col('admit', 'dates'), col('zip5', 'geographic')] }).classification).toBe('phi');
    expect(classify({ columns: [col('admit', 'dates')], dataUseAgreement: null }).classification).toBe('phi');
  });
});

describe('identifier categories', () => {
  it('are sorted and without repeats', () => {
    const r = classify({
      columns: [col('s1', 'ssn'), col('n1', 'names'), col('s2', 'ssn'), col('d', 'dates'), col('n2', 'names'), col('plain'), col('ip', 'ip-address')],
    });
    expect(r.identifierCategories).toEqual(['dates', 'ip-address', 'names', 'ssn']);
  });

  it('list all 18 once when every category appears, twice', () => {
    const columns = [...IDENTIFIER_CATEGORIES, ...IDENTIFIER_CATEGORIES].map((c, i) => col(`c${i}`, c));
    const r = classify({ columns });
    expect(r.identifierCategories).toEqual([...IDENTIFIER_CATEGORIES].sort());
    expect(r.classification).toBe('phi');
  });

  it('are reported under every basis', () => {
    expect(classify({ columns: [col('x', 'email')], expertDetermination: ed('2026-01-01', '2027-01-01') }).identifierCategories).toEqual(['email']);
    expect(classify({ columns: [col('x', 'dates')], dataUseAgreement: dua('2026-01-01', '2027-01-01') }).identifierCategories).toEqual(['dates']);
  });
});

describe('utcDate', () => {
  it('uses the UTC calendar date', () => {
    expect(utcDate(new Date(Date.UTC(2026, 5, 1, 23, 59, 59)))).toBe('2026-06-01');
    expect(utcDate(new Date(Date.UTC(2026, 5, 2, 0, 0, 0)))).toBe('2026-06-02');
  });
});
