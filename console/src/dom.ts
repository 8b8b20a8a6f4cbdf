// The only way the console puts anything on the page. Text goes in as text nodes (textContent), never as
// HTML: entity images, command inputs and answers are user data, and a string such as
// `<img src=x onerror=...>` must show as those characters. There is no innerHTML anywhere in console/.

export type Child = Node | string | number | null | undefined | false | Child[];
export type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

function append(el: Element, c: Child): void {
  if (c === null || c === undefined || c === false) return;
  if (Array.isArray(c)) {
    for (const x of c) append(el, x);
    return;
  }
  el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') {
      el.addEventListener(k.replace(/^on/, ''), v);
    } else if (k === 'href' && typeof v === 'string' && !v.startsWith('#') && !v.startsWith('/')) {
      // Links are the console's own routes only: nothing from the data becomes a javascript: URL.
      el.setAttribute(k, '#');
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

/**
 * Creates an element; string children become text nodes.
 *
 * @example
 * h('td', { class: 'key' }, entity.key) // the key shows as text, whatever it holds
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

/** Creates an SVG element (charts); children as in `h`. */
export function s(
  tag: string,
  attrs: Record<string, string | number> = {},
  ...children: Child[]
): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

/** Replaces everything inside `el`. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** JSON shown as text, indented (requests, decisions, snapshots, answers). */
export function jsonBlock(v: unknown, cls = 'json'): HTMLPreElement {
  return h('pre', { class: cls }, v === undefined ? '' : JSON.stringify(v, null, 2));
}
