// What `mailroot service` needs from a platform's service manager; one implementation per platform.
import type { ServiceSpec } from './service-spec.js';

/** A refusal or failure with a message for the operator (exit code 1). */
export class ServiceError extends Error {
  override name = 'ServiceError';
}

export interface ServiceManager {
  /** The file install would write (WinSW's XML or the systemd unit). */
  describe(spec: ServiceSpec, password?: string): string;
  install(spec: ServiceSpec, password?: string): Promise<string>;
  uninstall(): Promise<string>;
  start(): Promise<string>;
  stop(): Promise<string>;
  status(): Promise<string>;
}
