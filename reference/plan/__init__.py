"""What is checked: the implementation as a Target (named, bound and loaded in a worker), and what it defines."""
