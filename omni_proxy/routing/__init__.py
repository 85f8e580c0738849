"""routing: see its modules."""
