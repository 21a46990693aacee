#!/usr/bin/env bash
# scripts/run.sh — `make run`: a working Hookline gateway on this machine.
#
#  1. builds bin/hookline;
#  2. checks the Redis at HOOKLINE_REDIS_URL (default redis://127.0.0.1:6379/0);
#  3. if none answers there and the URL points at this machine, starts a
#     redis-server (AOF on, noeviction) with its data under ./.data/redis,
#     installing Debian's redis-server package first when root and missing;
#  4. runs in development mode unless HOOKLINE_MODE says otherwise;
#  5. creates a demo account once and keeps its credentials in ./.data/demo.json;
#  6. prints the API URL, the owner's login, the API key and example requests;
#  7. execs `bin/hookline serve` (API + worker in one process).
#
# HOOKLINE_ADDR, HOOKLINE_BASE_URL and every other HOOKLINE_* variable are
# honoured. Stop the Redis it started with `make redis-stop`.
set -euo pipefail
trap 'echo "scripts/run.sh: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
DATA=$ROOT/.data
BIN=$ROOT/bin/hookline
DEMO=$DATA/demo.json

if [ -t 2 ]; then BLUE=$'\033[1;34m' RED=$'\033[1;31m' N=$'\033[0m'; else BLUE= RED= N=; fi
if [ -t 1 ]; then B=$'\033[1m' BN=$'\033[0m'; else B= BN=; fi
say() { printf '%s==>%s %s\n' "$BLUE" "$N" "$*" >&2; }
die() { printf '%serror:%s %s\n' "$RED" "$N" "$*" >&2; exit 1; }

# ---------------------------------------------------------------- 1. build
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null 2>&1 || die "Go is not installed (https://go.dev/doc/install); it is needed to build bin/hookline"
VERSION=$(git describe --always --dirty 2>/dev/null || echo dev)
say "building bin/hookline ($VERSION)"
mkdir -p "$ROOT/bin"
go build -ldflags "-X main.Version=$VERSION" -o "$BIN" ./cmd/hookline

# ---------------------------------------------------------------- 2. Redis
export HOOKLINE_REDIS_URL=${HOOKLINE_REDIS_URL:-redis://127.0.0.1:6379/0}
export HOOKLINE_MODE=${HOOKLINE_MODE:-development}
URL=$HOOKLINE_REDIS_URL

# Split the URL: scheme://[user[:pass]@]host[:port][/db][?query]
SCHEME=${URL%%://*}
REST=${URL#*://}
REST=${REST%%\?*}
HOSTPART=${REST%%/*}
DBPART=
[[ $REST == */* ]] && DBPART=${REST#*/}
R_USER= R_PASS=
if [[ $HOSTPART == *@* ]]; then
  CRED=${HOSTPART%@*}
  HOSTPART=${HOSTPART##*@}
  if [[ $CRED == *:* ]]; then R_USER=${CRED%%:*} R_PASS=${CRED#*:}; else R_USER=$CRED; fi
fi
if [[ $HOSTPART == \[*\]* ]]; then # [::1]:6379
  R_HOST=${HOSTPART%%]*}; R_HOST=${R_HOST#[}
  R_PORT=${HOSTPART##*]}; R_PORT=${R_PORT#:}
else
  R_HOST=${HOSTPART%%:*}
  R_PORT=
  [[ $HOSTPART == *:* ]] && R_PORT=${HOSTPART##*:}
fi
R_PORT=${R_PORT:-6379}
R_DB=${DBPART:-0}
MASKED=$URL
[ -n "$R_PASS" ] && MASKED=${URL/":$R_PASS@"/":xxxxx@"}

# redis_state prints "up", "auth" (a Redis answers but refuses our
# credentials) or "down".
redis_state() {
  local out
  if [[ $SCHEME == redis || $SCHEME == rediss ]] && command -v redis-cli >/dev/null 2>&1; then
    local args=(-h "$R_HOST" -p "$R_PORT" --no-auth-warning)
    [[ $SCHEME == rediss ]] && args+=(--tls)
    [ -n "$R_USER" ] && [ -n "$R_PASS" ] && args+=(--user "$R_USER")
    [ -n "$R_PASS" ] && args+=(--pass "$R_PASS")
    out=$(timeout 5 redis-cli "${args[@]}" ping 2>&1 </dev/null) || true
    case $out in
      *PONG*) echo up ;;
      *NOAUTH* | *WRONGPASS* | *"AUTH failed"* | *NOPERM*) echo auth ;;
      *) echo down ;;
    esac
  elif [[ $SCHEME == redis ]]; then
    # No redis-cli: speak RESP over bash's /dev/tcp.
    out=$(timeout 5 bash -c '
      exec 3<>"/dev/tcp/$1/$2" || exit 1
      if [ -n "$4" ]; then
        if [ -n "$3" ]; then printf "AUTH %s %s\r\n" "$3" "$4" >&3; else printf "AUTH %s\r\n" "$4" >&3; fi
        read -r line <&3 || exit 1
        case $line in +OK*) ;; *) echo "$line"; exit 0 ;; esac
      fi
      printf "PING\r\n" >&3
      read -r line <&3 && echo "$line"' _ "$R_HOST" "$R_PORT" "$R_USER" "$R_PASS" 2>/dev/null </dev/null) || true
    case $out in
      +PONG*) echo up ;;
      -*) echo auth ;;
      *) echo down ;;
    esac
  else
    # Sentinel, cluster, or TLS without redis-cli: ask Hookline itself.
    out=$("$BIN" admin check-key --key hk_probe 2>&1 </dev/null) || true
    case $out in
      *"cannot reach Redis"*) echo down ;;
      *) echo up ;;
    esac
  fi
}

# is_local: a host that a redis-server started here (bound to 127.0.0.1 and ::1) serves.
is_local() {
  case $1 in localhost | 127.0.0.1 | ::1) return 0 ;; esac
  return 1
}

redis_install_hint() {
  cat >&2 <<'EOF'
redis-server is not installed. Install it, then run `make run` again:
    Debian/Ubuntu:  sudo apt-get install redis-server
    macOS:          brew install redis
or point HOOKLINE_REDIS_URL at a Redis you already run.
EOF
}

start_local_redis() {
  if [[ $SCHEME != redis ]]; then
    die "no Redis answers at $MASKED, and run.sh only starts a plain redis:// server; start it yourself"
  fi
  if [ -n "$R_USER" ] && [ "$R_USER" != default ]; then
    die "no Redis answers at $MASKED; run.sh does not create ACL users ($R_USER): start that Redis yourself"
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "redis-server is not installed: apt-get update && apt-get install -y redis-server"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update </dev/null >&2 && apt-get install -y --no-install-recommends redis-server </dev/null >&2 \
        || die "installing redis-server failed"
      command -v redis-server >/dev/null 2>&1 || die "redis-server is still not on PATH after the install"
      # Debian's package may have started its own service on this port.
      if [ "$(redis_state)" != down ]; then
        say "a Redis now answers at $MASKED (started by the package)"
        return 0
      fi
    else
      redis_install_hint
      exit 1
    fi
  fi

  local dir=$DATA/redis/$R_PORT pid=$DATA/redis-$R_PORT.pid logf=$DATA/redis-$R_PORT.log
  mkdir -p "$dir"
  local bind=(127.0.0.1)
  local major
  major=$(redis-server --version | sed -n 's/.*v=\([0-9]*\).*/\1/p')
  [ "${major:-0}" -ge 7 ] && bind=(127.0.0.1 -::1) # "-" = only if IPv6 is there
  local dbs=16
  [[ $R_DB =~ ^[0-9]+$ ]] && [ "$R_DB" -ge 16 ] && dbs=$((R_DB + 1))
  local extra=(--databases "$dbs")
  [ -n "$R_PASS" ] && extra+=(--requirepass "$R_PASS")

  if timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$R_HOST" "$R_PORT" 2>/dev/null </dev/null; then
    die "something that is not Redis listens on $R_HOST:$R_PORT; free that port or set HOOKLINE_REDIS_URL to another one"
  fi
  local skip=1 # log lines before this start, so old failures are not read as new ones
  if [ -f "$logf" ]; then skip=$(($(wc -l <"$logf") + 1)); fi
  say "no Redis answers at $MASKED: starting redis-server on port $R_PORT (data in .data/redis/$R_PORT, log in .data/redis-$R_PORT.log)"
  redis-server --daemonize yes --port "$R_PORT" --bind "${bind[@]}" \
    --dir "$dir" --appendonly yes --maxmemory-policy noeviction \
    --pidfile "$pid" --logfile "$logf" "${extra[@]}" </dev/null >&2 \
    || die "redis-server did not start; see $logf"
  local i p=
  for i in $(seq 1 100); do
    if [ "$(redis_state)" = up ]; then
      say "redis-server is up (pid $(cat "$pid" 2>/dev/null || echo '?'); stop it with: make redis-stop)"
      return 0
    fi
    [ -z "$p" ] && [ -s "$pid" ] && p=$(cat "$pid")
    if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then break; fi                   # it died
    tail -n "+$skip" "$logf" 2>/dev/null | grep -qiE 'aborting|fatal' && break # it gave up
    sleep 0.1
  done
  [ -z "$p" ] && [ -s "$pid" ] && p=$(cat "$pid")
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; fi
  rm -f "$pid"
  echo "--- last lines of .data/redis-$R_PORT.log:" >&2
  tail -n 15 "$logf" >&2 2>/dev/null || true
  die "the redis-server started on port $R_PORT did not answer; see .data/redis-$R_PORT.log"
}

say "checking Redis at $MASKED"
case $(redis_state) in
  up) say "Redis answers at $MASKED" ;;
  auth) die "a Redis answers at $MASKED but refuses the credentials in HOOKLINE_REDIS_URL" ;;
  down)
    if [[ $SCHEME == redis ]] && is_local "$R_HOST"; then
      start_local_redis
    else
      die "no Redis answers at $MASKED; start it, or unset HOOKLINE_REDIS_URL to use a local one"
    fi
    ;;
esac

# ---------------------------------------------------------------- 5. demo account
mkdir -p "$DATA"

# Secrets (signing secrets, delivery credentials) are encrypted at rest
# under an operator key. The first run makes one and keeps it in
# .data/secret-keys (mode 600); HOOKLINE_SECRET_KEYS, when set, wins.
if [ -z "${HOOKLINE_SECRET_KEYS:-}" ]; then
  if [ ! -s "$DATA/secret-keys" ]; then
    (umask 077 && "$BIN" admin new-secret-key --id local >"$DATA/secret-keys") || die "could not make an operator key"
    say "made an operator key for secrets at rest: .data/secret-keys"
  fi
  HOOKLINE_SECRET_KEYS=$(cat "$DATA/secret-keys")
  export HOOKLINE_SECRET_KEYS
fi

# json_get KEY FILE|-: the string value of KEY in a flat JSON object.
json_get() {
  local src=${2:--}
  if [ "$src" = - ]; then cat; else cat -- "$src"; fi |
    tr ',{}' '\n\n\n' | sed -n "s/^[[:space:]]*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" | head -n 1
}

random_string() { # $1 characters of [A-Za-z0-9]
  local s=
  while [ ${#s} -lt "$1" ]; do
    s+=$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  done
  printf '%s' "${s:0:$1}"
}

EMAIL= PASSWORD= ACCOUNT_ID= API_KEY=
if [ -f "$DEMO" ]; then
  EMAIL=$(json_get email "$DEMO")
  PASSWORD=$(json_get password "$DEMO")
  ACCOUNT_ID=$(json_get account_id "$DEMO")
  API_KEY=$(json_get api_key "$DEMO")
  if [ -n "$API_KEY" ]; then
    set +e
    out=$("$BIN" admin check-key --key "$API_KEY" 2>&1 </dev/null)
    code=$?
    set -e
    if [ $code = 0 ]; then
      say "reusing the demo account in .data/demo.json ($EMAIL, $ACCOUNT_ID)"
    elif [ $code = 1 ]; then
      printf '%s\n' "$out" >&2
      die "bin/hookline could not check the demo key against Redis (above)"
    else
      say "the demo key in .data/demo.json is not known to this Redis: creating a new demo account"
      API_KEY=
    fi
  else
    API_KEY=
  fi
fi

if [ -z "$API_KEY" ]; then
  PASSWORD=$(random_string 20)
  EMAIL=demo@hookline.local
  for attempt in 1 2 3; do
    set +e
    out=$(HOOKLINE_ADMIN_PASSWORD="$PASSWORD" "$BIN" admin create-account --name "Demo Studio" --email "$EMAIL" 2>&1 </dev/null)
    code=$?
    set -e
    if [ $code = 0 ]; then break; fi
    if [[ $out == *"already registered"* ]]; then
      # Redis kept the account but .data/demo.json is gone: use a fresh address.
      EMAIL="demo+$(random_string 8 | tr 'A-Z' 'a-z')@hookline.local"
      say "demo@hookline.local is already registered in this Redis; using $EMAIL"
      continue
    fi
    printf '%s\n' "$out" >&2
    die "bin/hookline admin create-account failed (above)"
  done
  [ $code = 0 ] || { printf '%s\n' "$out" >&2; die "could not create a demo account"; }
  ACCOUNT_ID=$(printf '%s' "$out" | json_get account_id)
  API_KEY=$(printf '%s' "$out" | json_get api_key)
  [ -n "$ACCOUNT_ID" ] && [ -n "$API_KEY" ] || die "unexpected output from admin create-account: $out"
  (
    umask 077
    cat >"$DEMO.tmp" <<EOF
{
  "email": "$EMAIL",
  "password": "$PASSWORD",
  "account_id": "$ACCOUNT_ID",
  "api_key": "$API_KEY"
}
EOF
    mv "$DEMO.tmp" "$DEMO"
  )
  say "created the demo account $ACCOUNT_ID; credentials saved in .data/demo.json"
fi

# ---------------------------------------------------------------- 6. banner
ADDR=${HOOKLINE_ADDR:-:8080}
if [ -n "${HOOKLINE_BASE_URL:-}" ]; then
  API_URL=${HOOKLINE_BASE_URL%/}
else
  host=${ADDR%:*}
  if [ -z "$host" ] || [ "$host" = 0.0.0.0 ]; then API_URL="http://localhost$ADDR"; else API_URL="http://$ADDR"; fi
fi

cat <<EOF

  Hookline $VERSION  ($HOOKLINE_MODE mode, Redis $MASKED)

  Dashboard    $B$API_URL/login$BN   (the Webhooks tab, Log History, keys, users)
  API URL      $B$API_URL$BN
  Login email  $B$EMAIL$BN
  Password     $B$PASSWORD$BN
  API key      $B$API_KEY$BN
  Account      $ACCOUNT_ID        (all of this is kept in .data/demo.json)

  Try it:
    curl -s $API_URL/v1/me -H 'Authorization: Bearer $API_KEY'

    curl -s -X POST $API_URL/v1/customers \\
      -H 'Authorization: Bearer $API_KEY' -H 'Content-Type: application/json' \\
      -d '{"name": "Ann Example", "email": "ann@example.com"}'

  Ctrl-C stops the gateway.$([ -f "$DATA/redis-$R_PORT.pid" ] && printf ' The Redis on port %s keeps running: make redis-stop' "$R_PORT")

EOF

# ---------------------------------------------------------------- 7. serve
exec "$BIN" serve
