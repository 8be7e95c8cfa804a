"""The event log: one contract (``base.EventLog``), one persistence module per backend."""
