// After `vite build`: writes `name.br` and `name.gz` beside each text file of dist/ that
// compression makes smaller, so the gateway can answer `Accept-Encoding` with bytes made once at
// build time instead of compressing on every request. Node's own zlib: no extra dependency.
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|map|webmanifest)$/;
const MIN_BYTES = 256;

async function* files(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

const root = process.argv[2] ?? "dist";
let count = 0;
for await (const path of files(root)) {
  if (!COMPRESSIBLE.test(path) || (await stat(path)).size < MIN_BYTES) continue;
  const raw = await readFile(path);
  const encoded = {
    br: brotliCompressSync(raw, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
      },
    }),
    gz: gzipSync(raw, { level: 9 }),
  };
  for (const [suffix, bytes] of Object.entries(encoded)) {
    if (bytes.length < raw.length) {
      await writeFile(`${path}.${suffix}`, bytes);
      count += 1;
    }
  }
}
console.log(`compress: wrote ${count} pre-compressed files under ${root}`);
