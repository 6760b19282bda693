/**
 * `npm run release`: mailroot as single executables that need no Node.js installed, built on Linux or Windows
 * x64 from the npm registry alone. Writes to release/:
 *   mailroot-<version>-win-x64.exe, mailroot-<version>-linux-x64, mailroot-<version>-win-x64.zip (the exe as
 *   mailroot.exe and WINDOWS_ZIP_FILES), SHA256SUMS.
 *
 * How (Node's "single executable applications"): esbuild bundles the compiled CLI into one CommonJS file; the
 * pinned Node.js for this machine turns it into a SEA blob (no code cache and no snapshot, so the one blob fits
 * both platforms); postject injects the blob into a copy of each platform's pinned node binary.
 */
import * as esbuild from 'esbuild';
import AdmZip from 'adm-zip';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { hostNodeBinary, nodeBinary } from './release-node.js';
import { asMailrootExe } from './release-pe.js';
import { NODE_VERSION, RELEASE_DIR, ROOT, SUMS_NAME, TARGETS, sha256, WINDOWS_ZIP_FILES, assetName, zipName } from './release-manifest.js';

type Inject = (file: string, resource: string, data: Buffer, options: { sentinelFuse: string }) => Promise<void>;
const { inject } = createRequire(import.meta.url)('postject') as { inject: Inject };

const BUILD_DIR = path.join(ROOT, '.cache', 'release-build');
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** Node's documented fuse: the byte after it tells node whether a blob was injected. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * One CommonJS file holding mailroot and its dependencies. Any esbuild warning fails the release: each one (a
 * require it cannot follow, import.meta in CommonJS) is code that would break only inside the executable.
 */
async function bundle(version: string): Promise<string> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const outfile = path.join(BUILD_DIR, 'mailroot.cjs');
  const result = await esbuild.build({
    entryPoints: [CLI],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${NODE_VERSION.split('.')[0]}`,
    // yargs' ESM build calls createRequire(import.meta.url); in the bundle that is the executable's own path.
    define: { 'import.meta.url': '__importMetaUrl', MAILROOT_VERSION: JSON.stringify(version) },
    banner: { js: '"use strict";\nconst __importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    logLevel: 'silent',
  });
  if (result.warnings.length > 0) {
    const text = await esbuild.formatMessages(result.warnings, { kind: 'warning' });
    throw new Error(`the bundle has ${result.warnings.length} warning(s); each would break the executable:\n${text.join('\n')}`);
  }
  return outfile;
}

function seaBlob(bundleFile: string): Buffer {
  const blob = path.join(BUILD_DIR, 'sea.blob');
  const config = path.join(BUILD_DIR, 'sea-config.json');
  fs.writeFileSync(
    config,
    JSON.stringify({ main: bundleFile, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false }),
  );
  execFileSync(hostNodeBinary(), ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  return fs.readFileSync(blob);
}

async function main(): Promise<void> {
  const version = packageVersion();
  fs.rmSync(RELEASE_DIR, { recursive: true, force: true });
  fs.rmSync(BUILD_DIR, { recursive: true, force: true });
  fs.mkdirSync(RELEASE_DIR, { recursive: true });
  fs.mkdirSync(BUILD_DIR, { recursive: true });

  const blob = seaBlob(await bundle(version));
  const assets: string[] = [];
  for (const target of TARGETS) {
    const exe = path.join(RELEASE_DIR, assetName(version, target));
    if (target.exeSuffix === '.exe') fs.writeFileSync(exe, asMailrootExe(fs.readFileSync(nodeBinary(target)), version, NODE_VERSION));
    else fs.copyFileSync(nodeBinary(target), exe);
    fs.chmodSync(exe, 0o755);
    process.stderr.write(`injecting mailroot into ${path.basename(exe)}\n`);
    await inject(exe, 'NODE_SEA_BLOB', blob, { sentinelFuse: SEA_FUSE });
    assets.push(exe);
  }

  const windowsExe = assets.find((file) => file.endsWith('.exe'))!;
  const zip = new AdmZip();
  zip.addLocalFile(windowsExe, '', 'mailroot.exe');
  for (const [from, name] of WINDOWS_ZIP_FILES) zip.addLocalFile(path.join(ROOT, from), '', name);
  const zipFile = path.join(RELEASE_DIR, zipName(version));
  await zip.writeZipPromise(zipFile);
  assets.push(zipFile);

  const sums = [];
  for (const file of assets) sums.push(`${await sha256(file)}  ${path.basename(file)}\n`);
  fs.writeFileSync(path.join(RELEASE_DIR, SUMS_NAME), sums.join(''));
  process.stdout.write(`release/ (Node.js ${NODE_VERSION} inside):\n${sums.join('')}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`release: ${(err as Error).message}\n`);
  process.exit(1);
});
