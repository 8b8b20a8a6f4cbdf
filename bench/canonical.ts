// `npm run bench -- canonical`: what the key parameters' canonical text costs (decision 0029), without a
// database. Beside the iterative walk, the recursive one it replaced (which built its path text on every
// level) as the baseline: its cost per level grows with the depth, and past about 2,000 levels it overflows
// the stack. Refusing a value deeper than the limit costs the same whatever its depth.
import { loadavg } from 'node:os';
import { canonicalJson, plainDecimal } from '../src/commands/canonical.js';

/** The walk before decision 0029 (errors left out): one call per level, the path text made per level. */
function recursive(v: unknown, path: string): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return plainDecimal(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(v)) {
        return `[${v.map((x, i) => (x === undefined ? 'null' : recursive(x, `${path}[${i}]`))).join(',')}]`;
      }
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${recursive(x, `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new Error('not plain data');
  }
}

/** Microseconds per call, the best of 5 rounds of `n` calls. */
function us(n: number, fn: () => unknown): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, ((performance.now() - t0) * 1000) / n);
  }
  return Math.round(best * 100) / 100;
}

const nested = (levels: number) => {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { [`level_${i}`]: v };
  return v;
};
const refuse = (v: unknown) => {
  try {
    canonicalJson(v);
  } catch {
    return;
  }
  throw new Error('not refused');
};
const wide = { depth: 1000, size: 16 * 1024 * 1024 };

const typical = { user: 'u-4711', prize: 'p-mug', qty: 2, at: new Date(0), tags: ['a', 'b'] };
const out: Record<string, number> = { load: Math.round(loadavg()[0]! * 10) / 10 };
out.typical_us = us(20_000, () => canonicalJson(typical));
out.typical_recursive_us = us(20_000, () => recursive({ ...typical, at: typical.at.toISOString() }, '$'));
for (const levels of [250, 500, 1000]) {
  const v = nested(levels);
  out[`nested_${levels}_us`] = us(200, () => canonicalJson(v, wide));
  out[`nested_${levels}_recursive_us`] = us(200, () => recursive(v, '$'));
}
for (const items of [1000, 10_000, 100_000]) {
  const v = Array.from({ length: items }, (_, i) => ({ id: `item-${i}`, qty: i }));
  out[`flat_${items}_us_per_item`] = Math.round((us(3, () => canonicalJson(v, wide)) / items) * 1000) / 1000;
  out[`flat_${items}_recursive_us_per_item`] =
    Math.round((us(3, () => recursive(v, '$')) / items) * 1000) / 1000;
}
for (const levels of [1000, 100_000]) {
  const v = nested(levels);
  out[`refuse_nested_${levels}_us`] = us(200, () => refuse(v));
}
const huge = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]));
out.refuse_100k_keys_us = us(3, () => refuse(huge));

for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(32)} ${v}`);
console.log(JSON.stringify(out));
