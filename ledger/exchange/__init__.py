"""Moving the log in and out: NDJSON export and import."""
