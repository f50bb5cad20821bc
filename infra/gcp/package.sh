#!/usr/bin/env sh
# Stage the Cloud Functions source: main.py, requirements.txt and the agent_datastore package.
# Usage: infra/gcp/package.sh [OUT]   (default infra/gcp/build/source, where Terraform looks)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="${1:-$here/build/source}"
rm -rf "$out"
mkdir -p "$out"
cp "$root/functions/gcp/main.py" "$root/functions/gcp/requirements.txt" "$out/"
cp -R "$root/shared/agent_datastore" "$out/agent_datastore"
find "$out" -name '__pycache__' -type d -prune -exec rm -rf {} +
echo "staged $out"
