#!/bin/sh
# A stand-in for systemctl in the recipe test's root filesystem, where systemd does not run (the
# test runs docs/deployment.md §8 there: test/e2e/recipe.test.ts). Only what the recipe uses:
#   daemon-reload                       nothing to do
#   enable --now | start | stop | restart UNIT...
#   reload UNIT...
# For spapi-auth@N it reads /etc/systemd/system/spapi-auth@.service as systemd would, for the lines
# that make the service's environment: User=, EnvironmentFile=, Environment= (%i is N, %d the
# credentials directory), LoadCredential= (each file copied to /run/credentials/spapi-auth@N.service,
# mode 0400, owned by User=, and CREDENTIALS_DIRECTORY set), LimitNOFILE= and ExecStart=, which it
# starts in the background as User= with exactly that environment (plus PATH), its output appended
# to /var/log/spapi-auth@N.log. stop sends SIGTERM (KillSignal=) and waits for the exit. The
# sandboxing lines (ProtectSystem=, …), Restart= and the ordering are not emulated. Any other unit
# (nginx, postgresql) is handed to its Debian init script.
set -eu
action=${1:?usage: systemctl ACTION [--now] UNIT...}
shift
now=0
units=
for a in "$@"; do
  case $a in
    --now) now=1 ;;
    -*) ;;
    *) units="$units ${a%.service}" ;;
  esac
done
case $action in
  daemon-reload) exit 0 ;;
  enable) [ "$now" = 1 ] || exit 0; action=start ;;
  start | stop | restart | reload) ;;
  *) echo "systemctl stand-in: '$action' is not emulated" >&2; exit 1 ;;
esac

UNIT_FILE=/etc/systemd/system/spapi-auth@.service

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_instance() {
  n=$1
  pidf=/run/spapi-auth@$n.pid
  if running "$pidf"; then return 0; fi
  creds=/run/credentials/spapi-auth@$n.service
  rm -rf "$creds"
  mkdir -p "$creds"
  user=root
  nofile=
  exec_start=
  set --
  while IFS= read -r line || [ -n "$line" ]; do
    line=$(printf '%s' "$line" | sed "s|%i|$n|g; s|%d|$creds|g")
    case $line in
      User=*) user=${line#User=} ;;
      EnvironmentFile=*)
        while IFS= read -r e || [ -n "$e" ]; do
          case $e in '' | '#'*) ;; *) set -- "$@" "$e" ;; esac
        done <"${line#EnvironmentFile=}"
        ;;
      Environment=*) set -- "$@" "${line#Environment=}" ;;
      LoadCredential=*)
        c=${line#LoadCredential=}
        install -m 0400 -o "$user" "${c#*:}" "$creds/${c%%:*}"
        ;;
      LimitNOFILE=*) nofile=${line#LimitNOFILE=} ;;
      ExecStart=*) exec_start=${line#ExecStart=} ;;
    esac
  done <"$UNIT_FILE"
  chown "$user" "$creds"
  chmod 0500 "$creds"
  # as far as the container lets it (its hard limit may be lower)
  [ -z "$nofile" ] || ulimit -n "$nofile" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  # shellcheck disable=SC2086 # ExecStart is split on spaces, as systemd does for an unquoted line
  setsid env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    CREDENTIALS_DIRECTORY="$creds" "$@" \
    setpriv --reuid="$user" --regid="$user" --init-groups $exec_start \
    >>"/var/log/spapi-auth@$n.log" 2>&1 </dev/null &
  echo $! >"$pidf"
}

stop_instance() {
  pidf=/run/spapi-auth@$1.pid
  running "$pidf" || return 0
  pid=$(cat "$pidf")
  kill -TERM "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -le 300 ] || { echo "spapi-auth@$1 did not stop in 30 s" >&2; kill -KILL "$pid"; }
    sleep 0.1
  done
  rm -f "$pidf"
}

for u in $units; do
  case $u in
    spapi-auth@*)
      n=${u#spapi-auth@}
      case $action in
        start) start_instance "$n" ;;
        stop) stop_instance "$n" ;;
        restart) stop_instance "$n" && start_instance "$n" ;;
        reload) echo "systemctl stand-in: spapi-auth has no reload" >&2; exit 1 ;;
      esac
      ;;
    *) "/etc/init.d/$u" "$action" ;;
  esac
done
