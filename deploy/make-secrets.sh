#!/bin/sh
# Write the secrets compose.yaml mounts, each a fresh random value, readable only by the owner. Existing
# files are kept: rerunning never rotates a key by accident (the audit keys sign the provenance log).
set -eu
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
umask 077

make() {  # name, command that prints the value
    if [ -e "$dir/$1" ]; then
        echo "kept    $dir/$1"
    else
        sh -c "$2" > "$dir/$1"
        echo "created $dir/$1"
    fi
}

for name in postgres_password qdrant_api_key audit_query_hmac_key audit_checkpoint_key; do
    make "$name" "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
done
# S3 credentials in the shape S3 stores accept (MinIO: an access key of 20 characters, a secret of 40).
make s3_access_key_id "python3 -c 'import secrets, string; a = string.ascii_uppercase + string.digits; print(\"\".join(secrets.choice(a) for _ in range(20)))'"
make s3_secret_access_key "python3 -c 'import secrets; print(secrets.token_urlsafe(30))'"
# The Ed25519 key that signs the provenance log's head and checkpoints (PKCS#8 PEM); auditors verify with
# its public half (GET /audit/public-key), so keep this file as carefully as the database.
make audit_signing_key "openssl genpkey -algorithm ed25519"
