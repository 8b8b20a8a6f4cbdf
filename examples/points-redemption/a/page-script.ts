// The page's script (plain browser JavaScript, inlined by page.ts). One key per intent:
// - the key is made when the page opens or the form changes, and shown before the click;
// - while a redemption is in flight the button and the form are disabled: a second click does nothing;
// - the redemption in flight is kept in sessionStorage: a reload finds its key and asks again with it
//   (A's server retries until B answers for good), so the page shows how it ended;
// - an answer that is not final (202, 409, 5xx, no answer) is asked again with the same key;
// - after the outcome is shown the button waits a moment (the second click of a slow double-click is not
//   a new intent), then reads "Redeem again", which makes a new key.

export const PAGE_SCRIPT = `
const $ = (id) => document.getElementById(id);
const STORE = 'tally-points:pending'; // the redemption in flight: { key, user, prize, qty }
const GUARD_MS = 1000; // after an outcome the button waits this long before it starts a new redemption
const POLL_MS = 2000; // pause before asking again about an outcome that is not known yet
let key = '';
let state = 'ready'; // ready | busy (in flight) | seen (final outcome shown) | open (not final, not asking)
let guardUntil = 0;
const short = (k) => k.slice(0, 8) + '…';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const form = () => ({ user: $('user').value, prize: $('prize').value, qty: Number($('qty').value) });
const log = (t) => { const d = document.createElement('div'); d.textContent = new Date().toLocaleTimeString() + '  ' + t; $('log').prepend(d); };

function render() {
  const go = $('go');
  go.disabled = state === 'busy' || Date.now() < guardUntil;
  go.textContent = state === 'busy' ? 'Redeeming…' : state === 'seen' ? 'Redeem again' : state === 'open' ? 'Ask again' : 'Redeem';
  for (const id of ['user', 'prize', 'qty']) $(id).disabled = state === 'busy';
}
function setKey(k) { key = k; $('key').textContent = k; }
function newIntent() { setKey(crypto.randomUUID()); state = 'ready'; sessionStorage.removeItem(STORE); render(); }
function show(status, text) { const o = $('outcome'); o.dataset.status = status; o.dataset.key = key; o.textContent = text; }
async function points() {
  const r = await fetch('/api/points/' + $('user').value); $('points').textContent = r.ok ? (await r.json()).points : '?';
}

/** One call to A's server, which retries with the same key until B gives a final answer or its tries run out. */
async function ask(body) {
  try {
    const r = await fetch('/api/redeem', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
    return await r.json();
  } catch (err) {
    return { status: 0, body: null, tries: 0 };
  }
}
const isFinal = (a) => a.status === 200 || (a.status >= 400 && a.status < 500 && a.status !== 409);

function outcome(a, body) {
  const b = a.body || {};
  if (a.status === 200) {
    show('succeeded', 'Redeemed ' + body.qty + ' × ' + body.prize + ' for ' + body.user + ' (' + b.result.deducted + ' points), key ' + short(key));
  } else if (b.status === 'failed') {
    const why = b.error && (b.error.reason || b.error.code);
    show('failed', 'Not redeemed (' + (why || 'refused') + '); no points kept, key ' + short(key));
  } else {
    show('rejected', 'Refused: ' + (b.detail || b.title || b.code || b.error || a.status) + ', key ' + short(key));
  }
}

async function redeem(body) {
  state = 'busy';
  render();
  sessionStorage.setItem(STORE, JSON.stringify({ key, ...body }));
  show('pending', 'Redeeming with key ' + short(key) + ' …');
  for (;;) {
    log('redeem ' + body.qty + ' × ' + body.prize + ' for ' + body.user + ' with key ' + short(key));
    const a = await ask(body);
    log('→ ' + a.status + ' after ' + a.tries + ' tries: ' + JSON.stringify(a.body));
    if (isFinal(a)) {
      sessionStorage.removeItem(STORE);
      outcome(a, body);
      state = 'seen';
      break;
    }
    const status = (a.body && a.body.status) || 'no answer';
    if (status === 'needs_attention') {
      // B has flagged it for an operator (see the example's README); the key stays, so a reload or a click asks again.
      show('needs_attention', 'Flagged for an operator (needs_attention); points are safe. Key ' + short(key));
      state = 'open';
      break;
    }
    show('pending', 'Outcome not known yet (' + status + '); asking again with the same key ' + short(key) + ' …');
    await sleep(POLL_MS);
  }
  guardUntil = Date.now() + GUARD_MS;
  setTimeout(render, GUARD_MS);
  render();
  points();
}

$('go').onclick = () => {
  if (state === 'busy' || Date.now() < guardUntil) return;
  if (state === 'seen') newIntent();
  void redeem(form());
};
for (const id of ['user', 'prize', 'qty']) {
  $(id).onchange = () => { if (state !== 'busy') newIntent(); if (id === 'user') points(); };
}

const saved = JSON.parse(sessionStorage.getItem(STORE) || 'null');
if (saved) {
  // Reloaded while a redemption was in flight: ask again with its key and show how it ended.
  $('user').value = saved.user; $('prize').value = saved.prize; $('qty').value = String(saved.qty);
  setKey(saved.key);
  log('reloaded during the redemption with key ' + short(saved.key) + ': asking how it ended');
  void redeem({ user: saved.user, prize: saved.prize, qty: saved.qty });
} else {
  newIntent();
}
points();
`;
