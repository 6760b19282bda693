// The Windows service through WinSW: a copy of winsw.exe named mailroot-service.exe beside its
// mailroot-service.xml, in the service folder; each command is the wrapper's own verb. WinSW registers the
// service with the Service Control Manager, so `sc query mailroot` and services.msc show it as usual.
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isSea } from 'node:sea';
import { runCommand, type RunCommand } from './run-command.js';
import { ServiceError, type ServiceManager } from './service-manager.js';
import { SERVICE_NAME, type ServiceSpec } from './service-spec.js';
import { winswConfig } from './winsw-config.js';

const WRAPPER_BASE = `${SERVICE_NAME}-service`;

/**
 * winsw.exe as shipped inside the node-windows package (an exe in a registry package: a normal npm install); for
 * the single executable (mailroot.exe), the copy the release zip puts beside it.
 */
export function bundledWinsw(): string {
  if (isSea()) return path.join(path.dirname(process.execPath), 'winsw.exe');
  const packageJson = createRequire(import.meta.url).resolve('node-windows/package.json');
  return path.join(path.dirname(packageJson), 'bin', 'winsw', 'winsw.exe');
}

export function defaultServiceFolder(env: NodeJS.ProcessEnv = process.env): string {
  return path.win32.join(env.ProgramData ?? 'C:\\ProgramData', SERVICE_NAME, 'service');
}

export interface WindowsServiceOptions {
  folder: string;
  winsw?: string;
  run?: RunCommand;
}

export class WindowsService implements ServiceManager {
  readonly folder: string;
  readonly wrapper: string;
  readonly configFile: string;
  readonly #winsw: string | undefined;
  readonly #run: RunCommand;

  constructor(options: WindowsServiceOptions) {
    this.folder = options.folder;
    this.wrapper = path.join(this.folder, `${WRAPPER_BASE}.exe`);
    this.configFile = path.join(this.folder, `${WRAPPER_BASE}.xml`);
    this.#winsw = options.winsw;
    this.#run = options.run ?? runCommand;
  }

  describe(spec: ServiceSpec, password?: string): string {
    return winswConfig(spec, { logDirectory: path.join(this.folder, 'logs'), ...(password !== undefined ? { password } : {}) });
  }

  async install(spec: ServiceSpec, password?: string): Promise<string> {
    if (await exists(this.configFile)) {
      throw new ServiceError(`the service is already installed (${this.configFile}); run "mailroot service uninstall" first`);
    }
    const winsw = this.#winsw ?? bundledWinsw();
    await fs.mkdir(path.join(this.folder, 'logs'), { recursive: true });
    try {
      await fs.copyFile(winsw, this.wrapper);
      await fs.copyFile(`${winsw}.config`, `${this.wrapper}.config`).catch(() => undefined); // .NET 4 runtime hint
      await fs.writeFile(this.configFile, this.describe(spec, password), { mode: 0o600 });
      if (password !== undefined) await this.#restrictToAdministrators(this.configFile);
      await this.#wrapper('install');
    } catch (err) {
      await this.#removeWrapperFiles();
      throw err;
    }
    // Started at once, as systemd's "enable --now" does on Linux. A service that cannot start stays installed:
    // fix what its log says, then "mailroot service start".
    try {
      await this.#wrapper('start');
    } catch (err) {
      throw new ServiceError(`installed the Windows service "${SERVICE_NAME}", but it did not start: ${(err as Error).message}; see ${path.join(this.folder, 'logs')}`);
    }
    return `installed and started the Windows service "${SERVICE_NAME}" (wrapper and configuration in ${this.folder})`;
  }

  async uninstall(): Promise<string> {
    await this.#requireInstalled();
    await this.#run(this.wrapper, ['stop'], { cwd: this.folder }); // a stopped service answers an error: fine
    await this.#wrapper('uninstall');
    await this.#removeWrapperFiles();
    return `removed the Windows service "${SERVICE_NAME}" (its logs stay in ${path.join(this.folder, 'logs')})`;
  }

  async start(): Promise<string> {
    await this.#requireInstalled();
    return this.#wrapper('start');
  }

  async stop(): Promise<string> {
    await this.#requireInstalled();
    return this.#wrapper('stop');
  }

  async status(): Promise<string> {
    if (!(await exists(this.configFile))) return 'not installed';
    const result = await this.#run(this.wrapper, ['status'], { cwd: this.folder });
    return result.output.trim();
  }

  async #wrapper(verb: string): Promise<string> {
    const result = await this.#run(this.wrapper, [verb], { cwd: this.folder });
    if (result.code !== 0) throw new ServiceError(`service ${verb} failed (${path.basename(this.wrapper)} exit ${result.code}): ${result.output.trim()}`);
    return result.output.trim();
  }

  /** The XML holds the account's password: only SYSTEM (S-1-5-18) and Administrators (S-1-5-32-544) may read it. */
  async #restrictToAdministrators(file: string): Promise<void> {
    const result = await this.#run('icacls', [file, '/inheritance:r', '/grant:r', '*S-1-5-18:F', '*S-1-5-32-544:F'], { cwd: this.folder });
    if (result.code !== 0) throw new ServiceError(`cannot limit access to ${file} (it holds a password): ${result.output.trim()}`);
  }

  async #requireInstalled(): Promise<void> {
    if (!(await exists(this.configFile))) throw new ServiceError(`the service is not installed (no ${this.configFile})`);
  }

  async #removeWrapperFiles(): Promise<void> {
    for (const file of [this.configFile, this.wrapper, `${this.wrapper}.config`]) await fs.rm(file, { force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
