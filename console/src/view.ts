// What a view gets: its route, its element, and timers that stop when the operator leaves it.
import { ApiError } from './api.js';
import { h, mount } from './dom.js';
import type { Route } from './router.js';
import type { SessionInfo } from './types.js';

export interface ViewContext {
  route: Route;
  el: HTMLElement;
  /** The server's answer to GET /api/session (null until known, or when it needs a token first). */
  session: SessionInfo | null;
  /** False once the operator went to another view: late answers are dropped. */
  alive(): boolean;
  /** Runs `fn` every `ms` while the view is shown (live figures). */
  every(ms: number, fn: () => Promise<void> | void): void;
  /** Renders the view again in place (after an action). */
  rerender(): void;
}

export type View = (ctx: ViewContext) => Promise<void>;

/** An error as the operator should read it: the API's code and detail, never a stack. */
export function errorBox(err: unknown): HTMLElement {
  if (err instanceof ApiError) {
    const hint =
      err.status === 401
        ? 'This server needs a token: enter it at the top right.'
        : err.status === 403 && err.code === 'FORBIDDEN'
          ? 'Your token may read but not act: actions need an operator token.'
          : '';
    return h(
      'div',
      { class: 'error', role: 'alert', 'data-code': err.code },
      `${err.code}: ${err.detail}`,
      hint ? h('div', null, hint) : null,
    );
  }
  return h('div', { class: 'error', role: 'alert' }, 'Something went wrong in the console.');
}

/** Shows `err` in `el` in place of the view. */
export function showError(el: HTMLElement, err: unknown): void {
  mount(el, errorBox(err));
}

/** A status word as a coloured badge. */
export function badge(status: string): HTMLElement {
  return h(
    'span',
    { class: `badge status-${status.replace(/[^a-z_]/g, '')}`, 'data-status': status },
    status,
  );
}

/** A titled section. */
export function section(title: string, ...children: (Node | string | null | false)[]): HTMLElement {
  return h('section', { class: 'panel' }, h('h2', null, title), ...children);
}

/** A definition table of label → value rows (values are text or nodes). */
export function facts(rows: [string, Node | string | number | null | undefined][]): HTMLElement {
  return h(
    'table',
    { class: 'facts' },
    h(
      'tbody',
      null,
      rows
        .filter(([, v]) => v !== null && v !== undefined && v !== '')
        .map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v as Node | string))),
    ),
  );
}
