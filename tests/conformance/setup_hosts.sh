#!/usr/bin/env bash
# Maps BUCKET.localhost to 127.0.0.1 in /etc/hosts, because osstorchconnector always uses
# virtual-hosted addressing (BUCKET.<endpoint host>) and glibc does not resolve *.localhost
# by itself. Idempotent; needs root. Usage: setup_hosts.sh [BUCKET...] (default: the
# buckets of the conformance tests). HOSTS_FILE overrides /etc/hosts (for trying it out).
set -euo pipefail

hosts_file="${HOSTS_FILE:-/etc/hosts}"
if [ "$#" -eq 0 ]; then
    set -- ossmc-conformance
fi

for bucket in "$@"; do
    if ! [[ "$bucket" =~ ^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$ ]]; then
        echo "setup_hosts.sh: '$bucket' is not a valid bucket name" >&2
        exit 2
    fi
    line="127.0.0.1 ${bucket}.localhost"
    if ! grep -qxF "$line" "$hosts_file"; then
        # Never glue the line onto a last line that lacks its newline.
        if [ -s "$hosts_file" ] && [ -n "$(tail -c 1 "$hosts_file")" ]; then
            echo >> "$hosts_file"
        fi
        echo "$line" >> "$hosts_file"
        echo "setup_hosts.sh: added '$line' to $hosts_file"
    fi
done
