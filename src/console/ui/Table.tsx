/**
 * An accessible table: a caption, column headers with scope (an empty header
 * is an "Actions" column, named for screen readers; false or undefined leaves
 * a column out), and the rows as children.
 */
import type { ComponentChildren } from 'preact';

export function Table(props: { caption: ComponentChildren; head: (string | false | undefined)[]; children: ComponentChildren }) {
  return (
    <table>
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          {props.head.map((h, i) =>
            h === false || h === undefined ? null : (
              <th key={i} scope="col">
                {h || <span class="visually-hidden">Actions</span>}
              </th>
            ),
          )}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}
