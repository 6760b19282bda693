// The WinSW configuration (mailroot-service.xml) for the Windows service. WinSW is the service wrapper: it
// answers the Service Control Manager, starts node with the relay, restarts it after a crash, and on a stop sends
// it Ctrl+C (the relay's clean stop, see cli/stop-requests.ts) and waits stoptimeout before ending it.
import type { ServiceSpec } from './service-spec.js';
import { SERVICE_DESCRIPTION, SERVICE_DISPLAY_NAME, SERVICE_NAME } from './service-spec.js';

/** Longer than the relay's own stop (10 s grace for deliveries in flight, 5 s backstop). */
export const WINSW_STOP_TIMEOUT = '20 sec';

export function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/**
 * One argument quoted for a Windows command line as CommandLineToArgvW and the C runtime read it: quotes only
 * when needed; backslashes doubled only before a quote.
 */
export function quoteWindowsArgument(arg: string): string {
  if (arg !== '' && !/[\s"]/.test(arg)) return arg;
  let quoted = '"';
  let backslashes = 0;
  for (const char of arg) {
    if (char === '\\') {
      backslashes++;
      continue;
    }
    quoted += char === '"' ? '\\'.repeat(backslashes * 2 + 1) + '"' : '\\'.repeat(backslashes) + char;
    backslashes = 0;
  }
  return `${quoted}${'\\'.repeat(backslashes * 2)}"`;
}

/** WinSW's <serviceaccount>: a name "DOMAIN\user", "user@domain" or "user" (a local account, domain "."). */
function accountElement(account: string, password: string): string {
  const [domain, user] = account.includes('\\') ? (account.split('\\', 2) as [string, string]) : ['.', account];
  return [
    '  <serviceaccount>',
    `    <domain>${xmlEscape(account.includes('@') ? '' : domain)}</domain>`,
    `    <user>${xmlEscape(account.includes('@') ? account : user)}</user>`,
    `    <password>${xmlEscape(password)}</password>`,
    '    <allowservicelogon>true</allowservicelogon>',
    '  </serviceaccount>',
  ].join('\r\n');
}

export function winswConfig(spec: ServiceSpec, options: { logDirectory: string; password?: string }): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!-- Written by "mailroot service install"; "mailroot service uninstall" removes it. -->',
    '<service>',
    `  <id>${SERVICE_NAME}</id>`,
    `  <name>${xmlEscape(SERVICE_DISPLAY_NAME)}</name>`,
    `  <description>${xmlEscape(SERVICE_DESCRIPTION)}</description>`,
    `  <executable>${xmlEscape(spec.executable)}</executable>`,
    `  <arguments>${xmlEscape(spec.arguments.map(quoteWindowsArgument).join(' '))}</arguments>`,
    `  <workingdirectory>${xmlEscape(spec.workingDirectory)}</workingdirectory>`,
    '  <startmode>Automatic</startmode>',
    '  <stopparentprocessfirst>true</stopparentprocessfirst>',
    `  <stoptimeout>${WINSW_STOP_TIMEOUT}</stoptimeout>`,
    '  <onfailure action="restart" delay="10 sec"/>',
    '  <onfailure action="restart" delay="60 sec"/>',
    '  <resetfailure>1 hour</resetfailure>',
    `  <logpath>${xmlEscape(options.logDirectory)}</logpath>`,
    '  <log mode="roll-by-size">',
    '    <sizeThreshold>10240</sizeThreshold>',
    '    <keepFiles>8</keepFiles>',
    '  </log>',
  ];
  if (spec.account !== undefined) lines.push(accountElement(spec.account, options.password ?? ''));
  lines.push('</service>', '');
  return lines.join('\r\n');
}
