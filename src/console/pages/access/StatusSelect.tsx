/** The "Status" filter of a list of access requests: any, or one of the statuses (format.ts names them). */
import { Select } from '../../ui/Field.tsx';
import { STATUS } from './format.ts';

export function StatusSelect({ value, onValue }: { value: string; onValue: (v: string) => void }) {
  return (
    <Select label="Status" value={value} onValue={onValue}>
      <option value="">Any</option>
      {Object.entries(STATUS).map(([v, label]) => (
        <option key={v} value={v}>
          {label}
        </option>
      ))}
    </Select>
  );
}
