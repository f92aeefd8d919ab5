"""A small textbook-style BP implementation written with other names: the README's example of
pointing the harness at someone's own code through an adapter (examples/homework_adapter.py)."""
