#!/usr/bin/env bash
# Makes PostgreSQL 15 with pgvector available on 127.0.0.1:5432 and creates a fresh Chitin test database.
#
# Run as root on Debian 12. Safe to run again: every step checks first and does nothing when its work is
# already done. On success the last line on stdout is the DATABASE_URL to use; progress goes to stderr.
#
# pgvector has no bookworm package, so it is built from Debian's trixie *source* package. Only a `deb-src`
# line is added for trixie: source indexes cannot provide binaries, so no installed package can upgrade.
set -euo pipefail

PG_MAJOR=15
PG_PORT="${CHITIN_PG_PORT:-5432}"
ROLE="${CHITIN_PG_ROLE:-chitin}"
PASSWORD="${CHITIN_PG_PASSWORD:-chitin}"
DATABASE="${CHITIN_PG_DATABASE:-chitin_test}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
TRIXIE_SOURCES=/etc/apt/sources.list.d/chitin-trixie-src.list
BUILD_ROOT=/var/cache/chitin-pgvector

export DEBIAN_FRONTEND=noninteractive
export PGOPTIONS="-c client_min_messages=warning"

say() { echo "setup-postgres: $*" >&2; }

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq >/dev/null
        apt_updated=1
    fi
}
apt_install() {
    apt_update_once
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

as_postgres() { runuser -u postgres -- "$@"; }
psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@"; }

# 1. The server package.
if ! dpkg-query -W -f='${Status}' "postgresql-${PG_MAJOR}" 2>/dev/null | grep -q "install ok installed"; then
    say "installing postgresql-${PG_MAJOR}"
    apt_install "postgresql-${PG_MAJOR}"
fi

# 2. A running cluster (containers have no systemd, hence --skip-systemctl-redirect).
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" '$1 == v && $2 == "main"' | grep -q .; then
    say "creating cluster ${PG_MAJOR}/main"
    pg_createcluster "$PG_MAJOR" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$PG_MAJOR" '$1 == v && $2 == "main" { print $4 }' | grep -q online; then
    say "starting cluster ${PG_MAJOR}/main"
    pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start
fi
for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || { say "postgresql did not accept connections on 127.0.0.1:${PG_PORT}"; exit 1; }

# 3. pgvector, built from source when the server cannot find its control file.
vector_available() {
    psql_admin -tA -d postgres -c "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'" | grep -q 1
}
if ! vector_available; then
    say "pgvector missing: building it from Debian trixie's source package"
    apt_install "postgresql-server-dev-${PG_MAJOR}" build-essential dpkg-dev ca-certificates
    if [ ! -f "$TRIXIE_SOURCES" ]; then
        echo "deb-src http://deb.debian.org/debian trixie main" > "$TRIXIE_SOURCES"
        apt_updated=0
    fi
    apt_update_once
    rm -rf "$BUILD_ROOT"
    mkdir -p "$BUILD_ROOT"
    # apt downloads as the unprivileged _apt user when it can write the target folder.
    if id _apt >/dev/null 2>&1; then chown _apt "$BUILD_ROOT"; fi
    (cd "$BUILD_ROOT" && apt-get source -qq --download-only pgvector >/dev/null && dpkg-source -x --skip-patches -- *.dsc src >/dev/null 2>&1)
    # OPTFLAGS="" drops pgvector's -march=native so the library also runs on another CPU of the same machine type.
    make -s -C "$BUILD_ROOT/src" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null
    make -s -C "$BUILD_ROOT/src" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install >/dev/null
    vector_available || { say "pgvector built but postgresql still cannot see it"; exit 1; }
    say "pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$BUILD_ROOT/src/vector.control") installed"
fi

# 4. The role and a fresh test database with the extension created by a superuser.
psql_admin -d postgres <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN
        CREATE ROLE "${ROLE}" LOGIN SUPERUSER PASSWORD '${PASSWORD}';
    ELSE
        ALTER ROLE "${ROLE}" LOGIN SUPERUSER PASSWORD '${PASSWORD}';
    END IF;
END
\$\$;
SQL
psql_admin -d postgres -c "DROP DATABASE IF EXISTS \"${DATABASE}\" WITH (FORCE)"
psql_admin -d postgres -c "CREATE DATABASE \"${DATABASE}\" OWNER \"${ROLE}\""
psql_admin -d "$DATABASE" -c "CREATE EXTENSION IF NOT EXISTS vector"

echo "postgres://${ROLE}:${PASSWORD}@127.0.0.1:${PG_PORT}/${DATABASE}"
