"""accounts: see its modules."""
