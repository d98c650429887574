// Fails the build when the UI's assets grow past their budget (gzip).
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

const budget = 150 * 1024;
const dir = '../server/web/dist/assets';
let total = 0;
for (const f of readdirSync(dir)) {
  const n = gzipSync(readFileSync(join(dir, f)), { level: 9 }).length;
  total += n;
  console.log(`${f}: ${(n / 1024).toFixed(1)} KiB gzip`);
}
console.log(`total ${(total / 1024).toFixed(1)} KiB gzip of a ${budget / 1024} KiB budget`);
if (total > budget) {
  console.error('the UI bundle is over its size budget');
  process.exit(1);
}
