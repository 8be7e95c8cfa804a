"""Social Care Ledger: the event-sourced service-record ledger for community-managed retirees."""

__version__ = "0.1.0"
