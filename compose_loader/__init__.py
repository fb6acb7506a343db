"""Compose files as Docker Compose reads them, on the user's machine; the gateway receives the canonical model."""

from spin_gateway.compose_loader.loader import ComposeProject, load_project
from spin_gateway.compose_loader.model import validate_model
from spin_gateway.compose_loader.output import to_json

__all__ = ["ComposeProject", "load_project", "to_json", "validate_model"]
