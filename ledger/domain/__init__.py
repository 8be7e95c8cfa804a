"""The domain: aggregates, their past-tense events and the rules. No I/O, no clock."""
