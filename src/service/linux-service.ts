// The Linux service: a systemd unit in /etc/systemd/system, enabled and started with systemctl.
import fs from 'node:fs/promises';
import path from 'node:path';
import { runCommand, type RunCommand } from './run-command.js';
import { ServiceError, type ServiceManager } from './service-manager.js';
import type { ServiceSpec } from './service-spec.js';
import { UNIT_FILE_NAME, systemdUnit } from './systemd-unit.js';

export const DEFAULT_UNIT_FOLDER = '/etc/systemd/system';

export interface LinuxServiceOptions {
  unitFolder?: string;
  run?: RunCommand;
}

export class LinuxService implements ServiceManager {
  readonly unitFile: string;
  readonly #run: RunCommand;

  constructor(options: LinuxServiceOptions = {}) {
    this.unitFile = path.join(options.unitFolder ?? DEFAULT_UNIT_FOLDER, UNIT_FILE_NAME);
    this.#run = options.run ?? runCommand;
  }

  describe(spec: ServiceSpec): string {
    return systemdUnit(spec);
  }

  async install(spec: ServiceSpec): Promise<string> {
    const written = await fs.writeFile(this.unitFile, systemdUnit(spec), { mode: 0o644, flag: 'wx' }).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') return false;
        throw new ServiceError(`cannot write ${this.unitFile}: ${err.message}`);
      },
    );
    if (!written) throw new ServiceError(`the service is already installed (${this.unitFile}); run "mailroot service uninstall" first`);
    try {
      await this.#systemctl('daemon-reload');
      await this.#systemctl('enable', '--now', UNIT_FILE_NAME);
    } catch (err) {
      await fs.rm(this.unitFile, { force: true });
      await this.#run('systemctl', ['daemon-reload']);
      throw err;
    }
    return `installed, enabled and started ${this.unitFile}`;
  }

  async uninstall(): Promise<string> {
    await this.#requireInstalled();
    await this.#systemctl('disable', '--now', UNIT_FILE_NAME);
    await fs.rm(this.unitFile, { force: true });
    await this.#systemctl('daemon-reload');
    return `stopped, disabled and removed ${this.unitFile}`;
  }

  async start(): Promise<string> {
    await this.#requireInstalled();
    return this.#systemctl('start', UNIT_FILE_NAME);
  }

  async stop(): Promise<string> {
    await this.#requireInstalled();
    return this.#systemctl('stop', UNIT_FILE_NAME);
  }

  async status(): Promise<string> {
    // systemctl status exits 3 for a stopped unit: its output is the answer either way.
    const result = await this.#run('systemctl', ['status', '--no-pager', UNIT_FILE_NAME]);
    return result.output.trim();
  }

  async #systemctl(...args: string[]): Promise<string> {
    const result = await this.#run('systemctl', args);
    if (result.code !== 0) throw new ServiceError(`systemctl ${args.join(' ')} failed (exit ${result.code}): ${result.output.trim()}`);
    return result.output.trim();
  }

  async #requireInstalled(): Promise<void> {
    const installed = await fs.access(this.unitFile).then(
      () => true,
      () => false,
    );
    if (!installed) throw new ServiceError(`the service is not installed (no ${this.unitFile})`);
  }
}
