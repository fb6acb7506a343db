"""The words every part of spin shares: errors, the Call/Plan/Decision model, labels, naming and units.

It depends on nothing of ours (pydantic and the standard library only), so the
loader, the translator, the policy package, the backends, the gateway and the
CLI can all use it without depending on one another. The import-linter
contracts in pyproject.toml hold that direction.
"""
