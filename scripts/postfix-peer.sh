#!/usr/bin/env bash
# The bench's peer: the system's Postfix as a loopback relay to the bench's sink (`npm run bench -- --peer
# postfix` drives it). Needs root; installs Postfix with apt-get when it is missing. Postfix listens on one
# loopback port of its own (no port 25, nothing on other addresses) and relays everything to 127.0.0.1:<sink>.
# The original main.cf and master.cf are kept beside them and put back by `stop`.
#
#   postfix-peer.sh start <listen-port> <sink-port>   configure, empty the queue, start; waits until it listens;
#                                                     prints the master's pid
#   postfix-peer.sh relay <sink-port>                 empty the queue and relay to another port (postfix reload);
#                                                     returns once the daemons that knew the old port are gone
#   postfix-peer.sh flush                             try every deferred message now (postqueue -f)
#   postfix-peer.sh clear                             delete every queued message
#   postfix-peer.sh queued                            how many messages are in the queue
#   postfix-peer.sh pid                               the master process's pid
#   postfix-peer.sh stop                              stop Postfix, empty the queue, restore the configuration
set -euo pipefail

CONF=/etc/postfix
BACKUP_SUFFIX=.mailroot-bench-orig
LOG=/var/log/mailroot-bench-postfix.log

die() {
  echo "postfix-peer: $*" >&2
  exit "${2:-1}"
}

need_root() {
  [ "$(id -u)" = 0 ] || die "needs root (it configures and starts the system's Postfix)" 3
}

install_if_missing() {
  command -v postfix >/dev/null 2>&1 && [ -x /usr/sbin/postconf ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "Postfix is not installed and there is no apt-get to install it" 3
  echo "postfix-peer: installing postfix with apt-get" >&2
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y postfix >&2
}

# What \`postfix status\` checks (the master's pid file is locked), without its wrapper: that costs most of a second
# on a loaded machine, this a few milliseconds.
running() {
  ! "$(postconf -h daemon_directory)/master" -t 2>/dev/null
}

master_pid() {
  local file
  file="$(postconf -h queue_directory)/pid/master.pid"
  [ -r "$file" ] && tr -d ' \n' <"$file"
}

configure() {
  local port=$1 sink=$2
  for f in main.cf master.cf; do
    if [ -f "$CONF/$f" ] && [ ! -f "$CONF/$f$BACKUP_SUFFIX" ]; then cp -p "$CONF/$f" "$CONF/$f$BACKUP_SUFFIX"; fi
  done
  [ -f "$CONF/master.cf$BACKUP_SUFFIX" ] && cp "$CONF/master.cf$BACKUP_SUFFIX" "$CONF/master.cf"
  cat >"$CONF/main.cf" <<EOF
# Written by mailroot's scripts/postfix-peer.sh for the benchmark; the original is main.cf$BACKUP_SUFFIX.
compatibility_level = 3.6
myhostname = postfix-peer.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
local_recipient_maps =
local_transport = error:local delivery is off in the benchmark peer
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:$sink
smtp_dns_support_level = disabled
smtp_host_lookup = native
biff = no
append_dot_mydomain = no
readme_directory = no
message_size_limit = 10485760
smtpd_banner = \$myhostname ESMTP
maillog_file = $LOG
EOF
  # No chroot (it would need the Debian init script's copies of /etc files), and no port 25: one listener
  # on a loopback port of its own.
  postconf -F '*/*/chroot = n'
  postconf -MX smtp/inet
  postconf -M "127.0.0.1:$port/inet=127.0.0.1:$port inet n - n - - smtpd"
}

listening_on() {
  local port=$1
  ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN
}

# The daemons that hold the relayhost: trivial-rewrite resolves each recipient to it, qmgr caches what it resolved.
relayhost_daemons() {
  local pid
  local master child comm state ppid rest
  master=$(master_pid) || return 0
  if command -v pgrep >/dev/null; then
    pgrep -P "$master" '^(qmgr|trivial-rewrite)$' || true
    return 0
  fi
  for stat in /proc/[0-9]*/stat; do
    read -r child comm state ppid rest <"$stat" 2>/dev/null || continue
    [ "$ppid" = "$master" ] || continue
    case "$comm" in "(qmgr)" | "(trivial-rewrite)") echo "$child" ;; esac
  done
}

check_loopback_only() {
  # Everything the master listens on must be a loopback address.
  local pid
  pid=$(master_pid) || return 0
  if ss -ltnp 2>/dev/null | grep "pid=$pid," | awk '{print $4}' | grep -vqE '^(127\.[0-9.]+|\[::1\]):[0-9]+$'; then
    postfix stop >&2 || true
    die "Postfix listened on a non-loopback address; stopped it" 1
  fi
}

cmd=${1:-}
case "$cmd" in
  start)
    [ $# -eq 3 ] || die "usage: $0 start <listen-port> <sink-port>" 2
    need_root
    install_if_missing
    if running; then die "a Postfix is already running on this machine; stop it first (postfix stop)" 4; fi
    configure "$2" "$3"
    postsuper -d ALL >/dev/null 2>&1 || true
    # Runs Postfix's integrity checks (6 s on a loaded machine) unless the last stop was a clean one: see stop.
    postfix start >&2
    for _ in $(seq 1 100); do
      listening_on "$2" && break
      sleep 0.1
    done
    listening_on "$2" || die "Postfix did not listen on 127.0.0.1:$2 (see $LOG)" 1
    check_loopback_only
    master_pid
    ;;
  relay)
    [ $# -eq 2 ] || die "usage: $0 relay <sink-port>" 2
    need_root
    postsuper -d ALL >/dev/null 2>&1 || true
    old=$(relayhost_daemons)
    postconf -e "relayhost = [127.0.0.1]:$2"
    # \`postfix reload\` is \`postsuper active\` (nothing is queued now) and SIGHUP to the master; its wrapper alone
    # took 2 s on a loaded machine.
    pid=$(master_pid) || die "Postfix is not running" 1
    kill -HUP "$pid"
    # Reloaded daemons finish their current work first; mail queued from now on must meet only new ones.
    for pid in $old; do
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
      done
    done
    ;;
  flush)
    need_root
    postqueue -f
    ;;
  clear)
    need_root
    postsuper -d ALL >/dev/null 2>&1 || true
    ;;
  queued)
    dir=$(postconf -h queue_directory)
    find "$dir/maildrop" "$dir/incoming" "$dir/active" "$dir/deferred" "$dir/hold" -type f 2>/dev/null | wc -l
    ;;
  pid)
    master_pid
    ;;
  stop)
    need_root
    # What \`postfix stop\` does (SIGTERM to the master), without its waits in whole seconds; it stays the fallback.
    clean=
    if running && pid=$(master_pid); then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 200); do
        running || break
        sleep 0.05
      done
      running || clean=1
    fi
    if running; then postfix stop >&2 || true; fi
    for _ in $(seq 1 50); do
      running || break
      sleep 0.1
    done
    # A clean stop of an instance that passed the checks at its start: the next start may skip them, as after
    # \`postfix quick-stop\`.
    if [ -n "$clean" ]; then touch "$(postconf -h queue_directory)/quick-start"; fi
    postsuper -d ALL >/dev/null 2>&1 || true
    for f in main.cf master.cf; do
      if [ -f "$CONF/$f$BACKUP_SUFFIX" ]; then mv -f "$CONF/$f$BACKUP_SUFFIX" "$CONF/$f"; fi
    done
    ;;
  *)
    die "usage: $0 start|relay|flush|clear|queued|pid|stop ..." 2
    ;;
esac
