// A private Postfix instance for one test: its own main.cf, master.cf, queue, data directory, log file and Cyrus
// sasldb under a temporary directory, listening on one loopback port with STARTTLS and SMTP AUTH required for
// relaying, relaying everything to a sink on loopback. The system's instance (/etc/postfix, which the bench's
// Postfix peer rewrites and restores) is neither read nor changed: root may run `postfix -c DIR` without
// listing DIR in alternate_config_directories (only set-gid use needs that).
//
// A guard shell started in its own session owns the instance: it starts Postfix, then waits on a pipe from this
// process. When the test stops the instance, or this process dies however it dies (the pipe closes), the guard
// stops Postfix, kills the master if it lingers and removes the directory, so no Postfix outlives the test.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { unusedPort } from './ports.js';

const POSTFIX = '/usr/sbin/postfix';
const SASLPASSWD2 = '/usr/sbin/saslpasswd2';
const SASL_PLUGIN_DIRS = ['/usr/lib/x86_64-linux-gnu/sasl2', '/usr/lib/aarch64-linux-gnu/sasl2', '/usr/lib/sasl2'];

export interface PostfixInstanceOptions {
  /** Where Postfix relays everything: "127.0.0.1:port" of the test's sink. */
  relayTo: { host: string; port: number };
  /** Its STARTTLS certificate and key (PEM files). */
  cert: string;
  key: string;
  /** The one SASL account allowed to relay. */
  user: string;
  password: string;
}

/** Why a private Postfix with Cyrus SASL cannot run here, or undefined when it can. */
export function postfixSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `Postfix runs on Linux only (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'running a private Postfix instance needs root';
  if (!fs.existsSync(POSTFIX)) return 'Postfix is not installed (.ci/run installs postfix, libsasl2-modules and sasl2-bin)';
  if (!fs.existsSync(SASLPASSWD2)) return 'saslpasswd2 is missing (Debian package sasl2-bin)';
  if (!SASL_PLUGIN_DIRS.some((dir) => fs.existsSync(path.join(dir, 'libsasldb.so.2')) && fs.existsSync(path.join(dir, 'libplain.so.2')))) {
    return 'the Cyrus SASL sasldb and PLAIN plugins are missing (Debian packages libsasl2-modules-db and libsasl2-modules)';
  }
  try {
    const types = execFileSync('/usr/sbin/postconf', ['-a'], { encoding: 'utf8' });
    if (!/^cyrus$/m.test(types)) return 'this Postfix has no Cyrus SASL support (postconf -a)';
  } catch (err) {
    return `postconf -a failed: ${(err as Error).message}`;
  }
  return undefined;
}

/** Resolves when something on 127.0.0.1:port sends an SMTP greeting. */
async function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(2000);
    socket.once('data', (data) => {
      socket.end('QUIT\r\n');
      resolve(data.toString().startsWith('220'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const MASTER_CF = (port: number) => `# The private test instance: no chroot, one loopback listener.
127.0.0.1:${port} inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`;

// Runs as the guard: start, say so, wait for the pipe to close, then stop and clean up whatever happened.
const GUARD = `
dir=$1
cleanup() {
  # SIGTERM to the master is what \`postfix stop\` sends; it then polls in whole seconds, this in 50 ms steps.
  pid=$(tr -d ' \\n' < "$dir/queue/pid/master.pid" 2>/dev/null)
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  else
    ${POSTFIX} -c "$dir/etc" stop >/dev/null 2>&1
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
# The queue and data directories as \`postfix start\` would make them, and quick-start: its integrity checks (post-install
# create-missing, 4 s here) are for a long-lived installation, not a fresh directory.
q=$dir/queue
install -d -m 700 -o postfix "$q/active" "$q/bounce" "$q/corrupt" "$q/defer" "$q/deferred" "$q/flush" "$q/hold" "$q/incoming" \\
  "$q/private" "$q/saved" "$q/trace" "$dir/data"
install -d -m 730 -o postfix -g postdrop "$q/maildrop"
install -d -m 710 -o postfix -g postdrop "$q/public"
install -d -m 755 "$q/pid"
touch "$q/quick-start"
if ! ${POSTFIX} -c "$dir/etc" start >"$dir/start.log" 2>&1; then
  echo "failed: $(cat "$dir/start.log" "$dir/maillog" 2>/dev/null | tail -5 | tr '\\n' ' ')"
  exit 1
fi
echo started
read -r _
`;

export class PostfixInstance {
  readonly dir: string;
  readonly port: number;
  readonly #guard: ChildProcess;

  private constructor(dir: string, port: number, guard: ChildProcess) {
    this.dir = dir;
    this.port = port;
    this.#guard = guard;
  }

  /** What Postfix logged (maillog_file), for assertions. */
  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'maillog'), 'utf8');
    } catch {
      return '';
    }
  }

  static async start(options: PostfixInstanceOptions): Promise<PostfixInstance> {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mailroot-postfix-'));
    // Postfix's unprivileged daemons (user postfix) must reach the sasldb, the certificate and the log.
    await fsp.chmod(dir, 0o755);
    const etc = path.join(dir, 'etc');
    // Debian's Postfix reads the Cyrus configuration from $config_directory/sasl (README.Debian, "policy").
    const sasl = path.join(etc, 'sasl');
    await fsp.mkdir(etc, { mode: 0o755 });
    await fsp.mkdir(path.join(dir, 'queue'), { mode: 0o755 }); // the guard makes its subdirectories
    await fsp.mkdir(sasl, { mode: 0o755 });
    await fsp.copyFile(options.cert, path.join(etc, 'cert.pem'));
    await fsp.copyFile(options.key, path.join(etc, 'key.pem'));
    await fsp.chmod(path.join(etc, 'key.pem'), 0o600);
    const port = await unusedPort();
    const hostname = 'postfix-upstream.test';
    const sasldb = path.join(sasl, 'sasldb2');
    await fsp.writeFile(path.join(sasl, 'smtpd.conf'), `pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: ${sasldb}\n`);
    execFileSync(SASLPASSWD2, ['-f', sasldb, '-p', '-c', '-u', hostname, options.user], { input: options.password, stdio: ['pipe', 'ignore', 'pipe'] });
    execFileSync('chown', ['root:postfix', sasldb]);
    await fsp.chmod(sasldb, 0o640);
    await fsp.writeFile(path.join(etc, 'main.cf'), `# A private instance for one mailroot test; removed with ${dir}.
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
syslog_name = postfix-mailroot-test
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
myhostname = ${hostname}
mydomain = test
myorigin = $myhostname
mydestination =
local_recipient_maps =
local_transport = error:no local delivery in the test instance
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relayhost = [${options.relayTo.host}]:${options.relayTo.port}
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = none
biff = no
append_dot_mydomain = no
smtpd_banner = $myhostname ESMTP
# Relaying only for an authenticated client, AUTH only after STARTTLS: mynetworks does not let loopback relay.
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = ${sasl}
smtpd_sasl_local_domain = $myhostname
smtpd_sasl_security_options = noanonymous
smtpd_sasl_authenticated_header = yes
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_cert_file = ${etc}/cert.pem
smtpd_tls_key_file = ${etc}/key.pem
smtpd_tls_loglevel = 1
# Nothing waits on time: a refused login is answered at once.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
`);
    await fsp.writeFile(path.join(etc, 'master.cf'), MASTER_CF(port));
    const guard = spawn('/bin/sh', ['-c', GUARD, 'postfix-guard', dir], { detached: true, stdio: ['pipe', 'pipe', 'ignore'] });
    const instance = new PostfixInstance(dir, port, guard);
    const started = await new Promise<string>((resolve) => {
      let out = '';
      guard.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      guard.once('exit', () => resolve(out.trim() || 'the guard exited'));
    });
    if (started !== 'started') {
      await instance.stop();
      throw new Error(`Postfix did not start: ${started}`);
    }
    const deadline = Date.now() + 20_000;
    while (!(await greets(port))) {
      if (Date.now() > deadline) {
        const log = instance.log();
        await instance.stop();
        throw new Error(`Postfix did not answer on 127.0.0.1:${port}:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return instance;
  }

  /** Stops Postfix and removes its directory (the guard does both when its pipe closes). */
  async stop(): Promise<void> {
    const guard = this.#guard;
    if (guard.exitCode === null && guard.signalCode === null) {
      const exited = new Promise<void>((resolve) => guard.once('exit', () => resolve()));
      guard.stdin!.end();
      await exited;
    }
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}
