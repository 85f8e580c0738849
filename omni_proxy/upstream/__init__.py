"""Talking to providers: the HTTP/1.1 pool, its interface, upstream errors and list prices."""
