// `npm run bench -- xdb`: the cross-database compare alone (bench/_reconcile-xdb.ts). Last line: JSON.
import { benchXdb } from './_reconcile-xdb.js';

const f = await benchXdb();
console.log(JSON.stringify({ bench: 'xdb', ...f }));
