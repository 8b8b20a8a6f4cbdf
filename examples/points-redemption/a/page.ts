// A's page: the head of the chain. It creates the idempotency key when a redemption starts and keeps it
// for every retry and double click of that redemption; a new one only after a final answer.

export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally — points redemption</title>
<style>
 body{font:15px system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}
 fieldset{border:1px solid #ccc;border-radius:6px;padding:1rem} label{display:inline-block;margin:.3rem 1rem .3rem 0}
 button{padding:.4rem 1rem} code{background:#f3f3f3;padding:0 .25rem} #log div{font-family:monospace;margin:.15rem 0}
</style></head><body>
<h1>Redeem points for prizes</h1>
<p>10 points per prize. A → B (Tally) → C (prize platform). Double-click as much as you like: one key, one effect.</p>
<fieldset>
 <label>User <select id="user"><option>alice</option><option>bob</option><option>carol</option></select></label>
 <label>Prize <select id="prize"><option>mug</option><option>hoodie</option><option>sticker</option></select></label>
 <label>Quantity <input id="qty" type="number" min="1" max="9" value="1" style="width:3rem"></label>
 <button id="go">Redeem</button>
 <p>Idempotency-Key: <code id="key"></code> · points: <b id="points">?</b></p>
</fieldset>
<div id="log"></div>
<script>
const $ = (id) => document.getElementById(id);
let key = crypto.randomUUID(); $('key').textContent = key;
const log = (t) => { const d = document.createElement('div'); d.textContent = new Date().toLocaleTimeString() + '  ' + t; $('log').prepend(d); };
async function points() {
  const r = await fetch('/api/points/' + $('user').value); $('points').textContent = r.ok ? (await r.json()).points : '?';
}
$('user').onchange = points; points();
$('go').onclick = async () => {
  const body = { user: $('user').value, prize: $('prize').value, qty: Number($('qty').value) };
  log('redeem ' + body.qty + ' × ' + body.prize + ' for ' + body.user + ' with key ' + key.slice(0, 8) + '…');
  const r = await fetch('/api/redeem', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
  const a = await r.json();
  log('→ ' + a.status + ' after ' + a.tries + ' tries: ' + JSON.stringify(a.body));
  if (a.status === 200 || (a.status >= 400 && a.status < 500 && a.status !== 409)) { key = crypto.randomUUID(); $('key').textContent = key; }
  points();
};
</script></body></html>`;
