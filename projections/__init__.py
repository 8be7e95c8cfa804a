"""Projections: the views read by auditors and dashboards, folded from the ledger's event log."""
