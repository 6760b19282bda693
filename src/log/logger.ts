// The process-wide winston logger: readable lines on stderr, JSON lines in the optional log file.
import path from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { LogLevel } from '../config/schema.js';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level: LogLevel;
  file?: string | undefined;
  /** Days of daily log files kept (logRetention); 14 when not given. */
  retentionDays?: number;
  /** Tests pass false to keep their output readable. */
  console?: boolean;
}

const consoleFormat = winston.format.printf((info) => {
  const { level, message, timestamp, ...fields } = info;
  const extra = Object.entries(fields)
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join(' ');
  return `${String(timestamp)} ${level} ${String(message)}${extra ? ' ' + extra : ''}`;
});

export function createLogger(options: LoggerOptions): Logger {
  const transports: winston.transport[] = [];
  if (options.console !== false) {
    transports.push(
      new winston.transports.Console({
        stderrLevels: ['error', 'warn', 'info', 'debug'],
        format: winston.format.combine(winston.format.timestamp(), consoleFormat),
      }),
    );
  }
  if (options.file) {
    // A new file each UTC day, mailroot.log -> mailroot-2026-12-01.log; older than retentionDays: deleted.
    const { dir, name, ext } = path.parse(options.file);
    transports.push(
      new DailyRotateFile({
        filename: path.join(dir, `${name}-%DATE%${ext}`),
        datePattern: 'YYYY-MM-DD',
        utc: true,
        maxFiles: `${options.retentionDays ?? 14}d`,
        auditFile: path.join(dir, `.${name}-audit.json`),
        format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
      }),
    );
  }
  if (transports.length === 0) transports.push(new winston.transports.Console({ silent: true }));
  return winston.createLogger({ level: options.level, transports });
}

/** A logger that drops everything, for library code used without a relay (tests, scripts). */
export function silentLogger(): Logger {
  return winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
}
