"""The commands of `spin`, one module per resource; cli/main.py assembles them."""
