# Shared by the security scripts: start a throw-away IP Mart on loopback and stop it again.
#
#   start_instance            fresh SQLite instance in a temp folder, demo catalogue, gunicorn on a free
#                             loopback port; sets BASE (http://127.0.0.1:PORT), WORK (temp folder), GUNICORN_PID.
#                             SCAN_DATABASE_URL=postgresql+psycopg://… uses that (empty) PostgreSQL database instead.
#   make_user EMAIL ROLE...   a user with the given roles (and an organisation), password $FUZZ_PASSWORD
#   token_for EMAIL           a bearer token for that user
#   stop_instance             stops gunicorn (by its pid) and removes the temp folder
# Nothing here touches another instance or database: everything lives in $WORK.

FUZZ_PASSWORD="fuzz-password-0123456789"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_instance() {
  WORK="$(mktemp -d -t ipmart-security-XXXXXX)"
  export INSTANCE_PATH="$WORK/instance" DEMO_DATA=1 SECRET_KEY="security-scan-$RANDOM" RATELIMIT_STORAGE_URI="memory://"
  export SEARCH_SYNC_ON_COMMIT=1
  unset DATABASE_URL STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET
  if [ -n "${SCAN_DATABASE_URL:-}" ]; then
    export DATABASE_URL="$SCAN_DATABASE_URL"
  fi
  mkdir -p "$INSTANCE_PATH"
  local port
  port="$(free_port)"
  BASE="http://127.0.0.1:$port"
  # the first start upgrades the empty SQLite database and seeds the demo catalogue
  flask --app wsgi demo seed >"$WORK/seed.log" 2>&1
  gunicorn --bind "127.0.0.1:$port" --workers 2 --timeout 60 --access-logfile "$WORK/access.log" \
    --error-logfile "$WORK/gunicorn.log" "${WSGI_APP:-security.scan_wsgi:app}" &
  GUNICORN_PID=$!
  for _ in $(seq 1 120); do
    if curl -fsS "$BASE/healthz" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$GUNICORN_PID" 2>/dev/null; then
      echo "gunicorn exited; its log:" >&2
      cat "$WORK/gunicorn.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "the instance did not answer /healthz in time" >&2
  return 1
}

make_user() {
  local email="$1"
  shift
  local roles=()
  for role in "$@"; do roles+=(--role "$role"); done
  local uscc
  uscc="$(python3 -c 'import random; from marketplace.kernel.uscc import uscc_check_char as c
b = "91440300" + "%09d" % random.randrange(10**9); print(b + c(b))')"
  flask --app wsgi users create --email "$email" --password "$FUZZ_PASSWORD" --name "安全测试" "${roles[@]}" \
    --org-name "安全测试有限公司$RANDOM" --uscc "$uscc" >>"$WORK/seed.log" 2>&1
}

token_for() {
  curl -fsS -X POST "$BASE/api/v1/auth/token" -H 'Content-Type: application/json' \
    -d "{\"email\": \"$1\", \"password\": \"$FUZZ_PASSWORD\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

stop_instance() {
  if [ -n "${GUNICORN_PID:-}" ] && kill -0 "$GUNICORN_PID" 2>/dev/null; then
    kill -TERM "$GUNICORN_PID" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$GUNICORN_PID" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL "$GUNICORN_PID" 2>/dev/null || true
  fi
  if [ -n "${WORK:-}" ] && [ -z "${KEEP_WORK:-}" ]; then
    rm -rf "$WORK"
  fi
}
