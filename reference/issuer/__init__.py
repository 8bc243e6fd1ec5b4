"""The reference Delegation Issuer: consent registry, issuance, exchange, revocation, audit.

``create_app(settings)`` (in :mod:`.app`) builds the Starlette application; ``mcp-auth
serve`` runs it under uvicorn. State lives in SQLite (WAL, ``synchronous=FULL``) and key
files in a data directory (:mod:`.settings`).
"""
