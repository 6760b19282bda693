// A password, client secret or private key from the configuration. It is read from the config, the environment
// or a file when the configuration is loaded, and can only be read back with reveal(): logging it, printing it
// or writing it to JSON (an .rtr, a .bdr, an NDR, a log line) shows "(secret)" instead.
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';

export type SecretSource = { value: string } | { file: string } | { env: string };

export class Secret {
  #value: string | undefined;
  readonly source: SecretSource;
  /** The key it came from, for error messages: "smartHost[0].auth.clientSecret". */
  readonly key: string;

  constructor(source: SecretSource, key: string) {
    this.source = source;
    this.key = key;
    if ('value' in source) this.#value = source.value;
  }

  /** Reads a file or environment source; returns an error message naming the key, or undefined. */
  load(cwd: string, env: NodeJS.ProcessEnv): string | undefined {
    if ('file' in this.source) {
      const file = path.resolve(cwd, this.source.file);
      try {
        // Editors leave a final newline; a secret never ends with one.
        this.#value = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '').replace(/\r?\n$/, '');
      } catch (err) {
        return `config: ${this.key}File: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      }
      if (this.#value === '') return `config: ${this.key}File: ${file} is empty`;
    } else if ('env' in this.source) {
      const value = env[this.source.env];
      if (value === undefined || value === '') return `config: ${this.key}Env: environment variable ${this.source.env} is not set`;
      this.#value = value;
    }
    return undefined;
  }

  reveal(): string {
    if (this.#value === undefined) throw new Error(`${this.key} was not loaded`);
    return this.#value;
  }

  toJSON(): string {
    return '(secret)';
  }

  toString(): string {
    return '(secret)';
  }

  [inspect.custom](): string {
    return '(secret)';
  }
}
