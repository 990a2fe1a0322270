#!/bin/sh
# Container start: secrets from files, the schema brought to head, then the service (or any command given).
set -eu

# Docker and Kubernetes hand secrets over as files. For every variable NAME_FILE whose value is a file under
# the secrets directory (SECRETS_DIR, default /run/secrets), export NAME with the file's content (trailing
# newline dropped), so settings read it as any other GOVRAG_* variable. Other *_FILE variables, such as
# GOVRAG_PRINCIPALS_FILE, are settings themselves and stay as they are. PGPASSWORD works the same way:
# libpq reads it, so the database URL never carries the password.
secrets_dir=${SECRETS_DIR:-/run/secrets}
for assignment in $(env | grep -E '^[A-Z0-9_]+_FILE=' | cut -d= -f1); do
    eval "path=\${$assignment}"
    case "$path" in
        "$secrets_dir"/*) ;;
        *) continue ;;
    esac
    # The audit signing key is a file setting itself (a PEM the service opens), not a value to export.
    case "$assignment" in
        GOVRAG_AUDIT__SIGNING_KEY_FILE) continue ;;
    esac
    name=${assignment%_FILE}
    if [ ! -r "$path" ]; then
        echo "govrag-entrypoint: $assignment points at $path, which cannot be read" >&2
        exit 2
    fi
    value=$(cat "$path")
    export "$name=$value"
    unset "$assignment"
done

# Migrations before the service, as one step that either completes or stops the start. Several replicas
# starting at once are safe: `govrag db upgrade` holds a PostgreSQL advisory lock while it migrates.
if [ "${GOVRAG_SKIP_MIGRATIONS:-0}" != "1" ]; then
    govrag db upgrade
fi

exec "$@"
