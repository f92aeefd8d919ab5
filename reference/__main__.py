"""`python -m reference` (from a checkout), `python -m bp_parity` and the console script bp-parity: one command line."""
import sys


def run():
    try:
        from bp_parity.reference.cli.main import main
    except ModuleNotFoundError as error:  # NumPy itself missing: the environment of the README is not active
        sys.exit(f"error: {error.name} is not installed in this Python ({sys.executable}); create and activate the "
                 "README's environment: python3.11 -m venv .venv && .venv/bin/pip install -e '.[test,plot]' "
                 "&& . .venv/bin/activate")
    sys.exit(main())


if __name__ == "__main__":
    run()
