#!/usr/bin/env sh
# Print the path of a working Python 3.12 (the Lambda and Cloud Functions runtime), or fail saying so.
# `sam build` looks for `python3.12` on PATH; a pyenv shim that is not the selected version fails,
# so each candidate is run, not only found. PYTHON312 overrides the search.
for candidate in "${PYTHON312:-}" "$(command -v python3.12 2>/dev/null)" \
    "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 \
    "${HOME:-/root}"/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; then
    echo "$candidate"
    exit 0
  fi
done
echo "no working python3.12 found (set PYTHON312=/path/to/python3.12): sam build needs it for the python3.12 runtime" >&2
exit 1
