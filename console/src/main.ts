// The console's shell: navigation, the token box, and the hash router that shows one view at a time.
import { ApiError, get, session } from './api.js';
import { h, mount } from './dom.js';
import { parseHash } from './router.js';
import type { SessionInfo } from './types.js';
import type { View, ViewContext } from './view.js';
import { alerts } from './views/alerts.js';
import { command } from './views/command.js';
import { commands } from './views/commands.js';
import { entities } from './views/entities.js';
import { feed } from './views/feed.js';
import { jobs } from './views/jobs.js';
import { overview } from './views/overview.js';
import { reconcile } from './views/reconcile.js';

const NAV: [string, string][] = [
  ['overview', 'Overview'],
  ['commands', 'Commands'],
  ['alerts', 'Alerts'],
  ['entities', 'Entities'],
  ['jobs', 'Jobs'],
  ['feed', 'Feed'],
  ['reconcile', 'Reconcile'],
];

function pick(parts: string[]): View {
  switch (parts[0]) {
    case 'commands':
      return parts[1] ? command : commands;
    case 'alerts':
      return alerts;
    case 'entities':
      return entities;
    case 'jobs':
      return jobs;
    case 'feed':
      return feed;
    case 'reconcile':
      return reconcile;
    default:
      return overview;
  }
}

let info: SessionInfo | null = null;
let generation = 0;
let timers: number[] = [];
const main = h('main', { id: 'view' });
const nav = h(
  'nav',
  null,
  NAV.map(([p, label]) => h('a', { href: `#/${p}`, 'data-view': p }, label)),
);
const who = h('span', { id: 'access' });

async function loadSession(): Promise<void> {
  try {
    info = await get<SessionInfo>('session');
    mount(who, `${info.access === 'operator' ? 'operator' : 'read-only'} access`);
    who.dataset.access = info.access;
  } catch (err) {
    info = null;
    mount(who, err instanceof ApiError && err.status === 401 ? 'token needed' : 'not connected');
    who.dataset.access = 'none';
  }
}

function tokenBox(): HTMLElement {
  const input = h('input', { type: 'password', id: 'token', placeholder: 'token', autocomplete: 'off' });
  const form = h(
    'form',
    { id: 'token-form' },
    input,
    h('button', { type: 'submit' }, 'Use token'),
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          session.setToken(null);
          void loadSession().then(render);
        },
      },
      'Forget',
    ),
    who,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    session.setToken(input.value.trim() || null);
    input.value = '';
    void loadSession().then(render);
  });
  return form;
}

function render(): void {
  const gen = ++generation;
  for (const t of timers) clearInterval(t);
  timers = [];
  const route = parseHash(location.hash);
  const current = route.parts[0] ?? 'overview';
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('on', a.dataset.view === current);
  const ctx: ViewContext = {
    route,
    el: main,
    session: info,
    alive: () => gen === generation,
    every(ms, fn) {
      if (gen !== generation) return;
      let busy = false;
      timers.push(
        window.setInterval(async () => {
          if (busy || gen !== generation) return;
          busy = true;
          try {
            await fn();
          } finally {
            busy = false;
          }
        }, ms),
      );
    },
    rerender: () => render(),
  };
  void pick(route.parts)(ctx);
}

document.body.append(
  h('header', null, h('a', { href: '#/overview', class: 'brand' }, 'Tally console'), nav, tokenBox()),
  main,
);
window.addEventListener('hashchange', render);
await loadSession();
render();
