"""Development and test tooling; never imported by the running ledger."""
