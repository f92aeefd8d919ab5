"""`python -m reference deviations`: every documented difference from torch, from the registry, with the
test that predicts its size."""

from bp_parity.reference.pieces import registry

HELP = "list where the textbook differs from torch on purpose, and the test that predicts each difference"


def run(args, out):
    found = registry.deviations()
    for name, d in found:
        print(f"{name}: {d.piece}\n  textbook: {d.textbook}\n  torch:    {d.torch_builtin}\n  twin:     {d.twin}\n"
              f"  consequence: {d.consequence}\n  predicted by: {d.predicted_by}\n", file=out)
    print(f"{len(found)} documented differences over {len({n for n, _ in found})} pieces", file=out)
    return 0
