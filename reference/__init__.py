"""bp-parity's oracles and comparator: PyTorch twins, finite differences, the
tolerance policy and the mismatch reports.  See DESIGN.md."""
