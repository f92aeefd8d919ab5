"""Running implementation code: supervised worker processes (worker), what crosses back from them (wire), the
harness's global state guarded around every call into the implementation (state), and the units of work a worker
runs (tasks)."""
