/** A page of the console: where it lives, what it is called, who may see it in the menu. */
import type { JSX } from 'preact';

export interface PageProps {
  /** The path parameters (`/decisions/:id` → `{ id }`). */
  params: Record<string, string>;
  /** The query string: a page's filters live there, so a search is a link. */
  query: URLSearchParams;
}

export interface PageDef {
  /** Under /console, e.g. '/decisions' or '/decisions/:id'. */
  path: string;
  title: string;
  /** The menu section; pages without one (details) are reached by links. */
  nav?: 'Review' | 'Access' | 'Administration' | 'You';
  /**
   * Shown in the menu to holders of any of these permissions (none listed:
   * everyone signed in). Hiding is only convenience: the API decides, and a
   * page reached without the permission shows the API's refusal.
   */
  anyOf?: string[];
  component: (p: PageProps) => JSX.Element;
}
