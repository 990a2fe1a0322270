#!/bin/sh
# Write the secrets compose.yaml mounts, each a fresh random value, readable only by the owner. Existing
# files are kept: rerunning never rotates a key by accident (the audit keys sign the provenance log).
set -eu
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
umask 077
for name in postgres_password qdrant_api_key audit_query_hmac_key audit_checkpoint_key; do
    if [ -e "$dir/$name" ]; then
        echo "kept    $dir/$name"
    else
        python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$dir/$name"
        echo "created $dir/$name"
    fi
done
