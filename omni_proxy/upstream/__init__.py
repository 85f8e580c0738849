"""upstream: see its modules."""
