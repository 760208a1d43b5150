"""One module per revision of the job database's schema."""
