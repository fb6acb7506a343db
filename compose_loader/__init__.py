"""Compose files as Docker Compose reads them, on the user's machine; the gateway receives the canonical model."""

from compose_loader.loader import ComposeProject, load_project
from compose_loader.model import validate_model
from compose_loader.output import to_json

__all__ = ["ComposeProject", "load_project", "to_json", "validate_model"]
