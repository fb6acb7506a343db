"""Who is calling: bearer tokens and the checks on what they may do."""

from spin_gateway.gateway_api.auth.tokens import TokenClaims, TokenSigner, load_or_create_key

__all__ = ["TokenClaims", "TokenSigner", "load_or_create_key"]
