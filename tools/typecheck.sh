#!/usr/bin/env bash
# Type-check flipconv, flipconv.core and flipconv.cli with mypy. The repo keeps core/ and
# cli/ at the top while they install as flipconv.core and flipconv.cli; mypy
# has no package-dir mapping, so it reads them through that layout of links.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/flipconv"
ln -s "$root/flipconv/__init__.py" "$tree/flipconv/__init__.py"
ln -s "$root/core" "$tree/flipconv/core"
ln -s "$root/cli" "$tree/flipconv/cli"
cd "$tree"
"${MYPY:-mypy}" --config-file "$root/pyproject.toml" --cache-dir "$root/.mypy_cache" \
  -p flipconv "$@"
