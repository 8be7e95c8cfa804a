"""One router per resource; each translates HTTP to ledger commands and queries, nothing more."""
