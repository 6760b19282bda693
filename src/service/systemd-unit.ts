// The systemd unit for Linux: the relay as a long-running service, restarted after a crash, stopped with SIGTERM
// (the relay's clean stop), and sandboxed: it may write only to its mailroot and log folder.
import type { ServiceSpec } from './service-spec.js';
import { SERVICE_DESCRIPTION } from './service-spec.js';

export const UNIT_FILE_NAME = 'mailroot.service';

/** One word of an Exec*= line: quoted, with systemd's escapes for \, ", % (specifiers) and $ (variables). */
export function quoteSystemdWord(word: string): string {
  return `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

/** A path in a list setting (ReadWritePaths=): systemd unescapes C-style, so spaces are written \x20. */
function unitPath(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/%/g, '%%').replace(/ /g, '\\x20');
}

export function systemdUnit(spec: ServiceSpec): string {
  const runsAsRoot = spec.account === undefined;
  const lines = [
    '# Written by "mailroot service install"; "mailroot service uninstall" removes it.',
    '[Unit]',
    `Description=${SERVICE_DESCRIPTION}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${[spec.executable, ...spec.arguments].map(quoteSystemdWord).join(' ')}`,
    `WorkingDirectory=${spec.workingDirectory.replace(/%/g, '%%')}`,
    ...(runsAsRoot ? [] : [`User=${spec.account}`, 'AmbientCapabilities=CAP_NET_BIND_SERVICE']),
    'Restart=on-failure',
    'RestartSec=10s',
    // SIGTERM to the relay only; it stops accepting, lets deliveries finish (10 s), then exits 0.
    'KillMode=mixed',
    'TimeoutStopSec=20s',
    'UMask=0027',
    '# Hardening: read-only system, no new privileges, only the mailroot and the log folder writable.',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    `ReadWritePaths=${spec.writablePaths.map(unitPath).join(' ')}`,
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    // As root it still needs to read writers' Pickup files whatever their mode (DAC override) and bind port 25.
    `CapabilityBoundingSet=CAP_NET_BIND_SERVICE${runsAsRoot ? ' CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_CHOWN' : ''}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}
