"""The HTTP API (FastAPI) and the ``ledger`` CLI: the outer ring that wires the ledger and projections."""
