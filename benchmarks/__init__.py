"""Benchmarks for the policy-checked path (issue 7). Run: .venv/bin/python benchmarks/run.py [--quick]."""
