"""server: see its modules."""
