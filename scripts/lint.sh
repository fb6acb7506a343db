#!/usr/bin/env bash
# The house rules CI holds: ruff on the whole tree, the import directions (import-linter contracts in
# pyproject.toml), and mypy on every package. Run from anywhere; needs the virtualenv install.sh makes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${VIRTUAL_ENV:-}" ] || . .venv/bin/activate

# The folders install as spin_gateway.<folder> (pyproject's package-dir). mypy does not run setuptools'
# editable import hook, so it reads them through a tree of links with those names.
packages=(vocabulary compose_loader translate policy audit backends interceptor gateway_api cli)
tree=build/typecheck/spin_gateway
mkdir -p "$tree"
for p in "${packages[@]}"; do ln -sfn "../../../$p" "$tree/$p"; done

status=0
echo "==> ruff"
ruff check --output-format concise . || status=1
echo "==> import-linter (the directions between packages)"
lint-imports || status=1
echo "==> mypy"
mypy -p spin_gateway || status=1
exit $status
