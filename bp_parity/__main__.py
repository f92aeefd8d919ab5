"""`python -m bp_parity`: the same command line as the console script bp-parity and `python -m reference`."""

from bp_parity.reference.__main__ import run

run()
