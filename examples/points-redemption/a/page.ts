// A's page: the head of the chain. One key per intent: the key is made when the user settles on what to
// redeem and is kept for every click, retry and reload of that redemption, until its outcome has been
// seen. The behaviour is in page-script.ts.
import { PAGE_SCRIPT } from './page-script.js';

export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally — points redemption</title>
<style>
 body{font:15px system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}
 fieldset{border:1px solid #ccc;border-radius:6px;padding:1rem} label{display:inline-block;margin:.3rem 1rem .3rem 0}
 button{padding:.4rem 1rem} code{background:#f3f3f3;padding:0 .25rem} #log div{font-family:monospace;margin:.15rem 0}
 #outcome{min-height:1.4em;font-weight:600} #outcome[data-status=succeeded]{color:#176f2c}
 #outcome[data-status=failed],#outcome[data-status=rejected]{color:#a32020}
</style></head><body>
<h1>Redeem points for prizes</h1>
<p>10 points per prize. A → B (Tally) → C (prize platform). Double-click as much as you like, or reload
in the middle: one key, one effect. The button waits while a redemption is in flight; a new key is made only
when you change the form or start a new redemption after seeing the outcome.</p>
<fieldset id="form">
 <label>User <select id="user"><option>alice</option><option>bob</option><option>carol</option></select></label>
 <label>Prize <select id="prize"><option>mug</option><option>hoodie</option><option>sticker</option></select></label>
 <label>Quantity <input id="qty" type="number" min="1" max="9" value="1" style="width:3rem"></label>
 <button id="go">Redeem</button>
 <p>Idempotency-Key: <code id="key"></code> · points: <b id="points">?</b></p>
</fieldset>
<p id="outcome" data-status="idle"></p>
<div id="log"></div>
<script>${PAGE_SCRIPT}</script></body></html>`;
