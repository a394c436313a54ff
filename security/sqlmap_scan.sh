#!/usr/bin/env bash
# sqlmap (Debian's /usr/bin/sqlmap) against a locally started instance: gunicorn on loopback, a fresh
# SQLite database with the demo catalogue. Targets: the search (page and API, every filter), a listing
# (page and API, the id in the path), and sign-in (the page's form, with its CSRF token, and the API's
# JSON token exchange). Each target runs with --batch under its own time bound; targets run side by
# side. Fails (exit 1) if sqlmap reports an injection point, or if a target could not be tested.
#
# By default (CI) sqlmap runs at level 1 on the main parameters of each route (every technique, each
# parameter tested in full); SQLMAP_THOROUGH=1 tests every parameter at level 2 (allow
# PER_TARGET_SECONDS=900 or so). A target cut off by its time bound is reported as a warning.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=security/lib.sh
. security/lib.sh

SQLMAP="${SQLMAP:-sqlmap}"
PER_TARGET="${PER_TARGET_SECONDS:-150}"
RISK="${SQLMAP_RISK:-1}"
if [ -n "${SQLMAP_THOROUGH:-}" ]; then
  LEVEL="${SQLMAP_LEVEL:-2}"
  SEARCH_PARAMS=()
  API_PARAMS=()
  LOGIN_PARAMS=(-p email,password)
else
  LEVEL="${SQLMAP_LEVEL:-1}"
  SEARCH_PARAMS=(-p q,kind,sort,price_min)
  API_PARAMS=(-p q,nice_class,per_page)
  LOGIN_PARAMS=(-p email)  # the password never reaches SQL (only its hash is compared, in Python)
fi
REPORT_DIR="${REPORT_DIR:-test-artifacts/sqlmap}"
command -v "$SQLMAP" >/dev/null || { echo "sqlmap is not installed (apt-get install sqlmap)" >&2; exit 1; }

trap stop_instance EXIT
start_instance
make_user scan@example.com buyer
listing_id="$(curl -fsS "$BASE/api/v1/search?q=%E7%94%B5%E6%B1%A0" |
  python3 -c 'import json, sys; r = json.load(sys.stdin)["results"]; print(r[0]["id"] if r else 1)')"
rm -rf "$REPORT_DIR"
mkdir -p "$REPORT_DIR"

common=(--batch --disable-coloring --flush-session --level "$LEVEL" --risk "$RISK"
        --timeout 15 --retries 1 --time-sec 1 --ignore-code 401 --output-dir "$REPORT_DIR/output")
declare -A targets=(
  [search-page]="--threads 4 ${SEARCH_PARAMS[*]} -u $BASE/search?q=%E7%94%B5%E6%B1%A0&kind=patent&grade=A&ipc=H01M&price_min=100&region=shenzhen&sort=price_asc&page=1"
  [search-api]="--threads 4 ${API_PARAMS[*]} -u $BASE/api/v1/search?q=battery&kind=patent&nice_class=9&price_max=100000000&sort=newest&page=1&per_page=5"
  [listing-page]="--threads 4 -u $BASE/listings/${listing_id}*"
  [listing-api]="--threads 4 -u $BASE/api/v1/listings/${listing_id}*"
  [login-api]="--threads 4 ${LOGIN_PARAMS[*]} -u $BASE/api/v1/auth/token --headers=Content-Type:application/json --data {\"email\":\"scan@example.com\",\"password\":\"wrong-password\"}"
  [login-page]="-u $BASE/login --data email=scan%40example.com&password=wrong-password&csrf_token=x --csrf-token=csrf_token --csrf-url=$BASE/login?from=sqlmap --csrf-method=GET ${LOGIN_PARAMS[*]}"
)

pids=()
for name in "${!targets[@]}"; do
  # shellcheck disable=SC2086  # the target's options are meant to split into words
  timeout --signal=TERM --kill-after=10 "$PER_TARGET" "$SQLMAP" ${targets[$name]} "${common[@]}" \
    >"$REPORT_DIR/$name.log" 2>&1 &
  pids+=("$!:$name")
done

failed=0
for entry in "${pids[@]}"; do
  pid="${entry%%:*}"
  name="${entry#*:}"
  rc=0
  wait "$pid" || rc=$?
  log="$REPORT_DIR/$name.log"
  if grep -q "identified the following injection point" "$log"; then
    echo "INJECTABLE: $name" >&2
    sed -n '/identified the following injection point/,/^---$/p' "$log" >&2
    failed=1
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "$name: WARNING stopped at the time bound (${PER_TARGET}s) before finishing; no injection found so far"
  elif grep -qE "all tested parameters do not appear to be injectable|do not appear to be injectable" "$log"; then
    echo "$name: not injectable ($(grep -c "testing '" "$log") payload families tried)"
  else
    echo "$name: sqlmap did not complete (exit $rc); last lines:" >&2
    tail -n 15 "$log" >&2
    failed=1
  fi
done
if [ "$failed" -eq 0 ]; then
  echo "sqlmap: no injection point on search, listing or sign-in routes"
fi
exit "$failed"
