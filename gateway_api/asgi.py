"""ASGI entry for several uvicorn workers: each worker builds its app from SPIN_GATEWAY_SETTINGS."""

from __future__ import annotations

import os

from spin_gateway.gateway_api.app import build_app
from spin_gateway.gateway_api.settings import Settings

app = build_app(Settings.model_validate_json(os.environ.get("SPIN_GATEWAY_SETTINGS", "{}")))
