"""The README and docs/ cannot drift from the code: every command they show parses, names files and tox
environments that exist, and runs as written (the cheap ones) or at a reduced size (the slow ones); the README's
tour is what the command prints; the zoo table is the zoo; every count is checked against what it counts; the README
is short, defines its terms before it uses them, and links every page of docs/."""

import configparser
import re
import shlex
from pathlib import Path

import pytest

from bp_parity.reference.run import zoo
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.cli.main import main, parse_args

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))}
TEXT = "\n".join([README, *PAGES.values()])  # the README and every page of docs/: commands and counts are read here
PLACEHOLDERS = {"path/to/my_layers.py", "my_package.my_layers"}  # the README's stand-ins for the reader's code


def _commands():
    """Every command line of the README's bash blocks and console prompts, comments stripped."""
    found = []
    for block in re.findall(r"```(bash|console)\n(.*?)```", TEXT, flags=re.S):
        kind, body = block
        for line in body.splitlines():
            line = line.strip()
            if kind == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            line = re.split(r"\s+#\s", line)[0].strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


COMMANDS = list(dict.fromkeys(_commands()))  # a command shown in two places runs once
HARNESS = ("bp-parity ", "python -m bp_parity ", "python -m reference ")  # the console script and its two -m forms
REFERENCE = [c for c in COMMANDS if c.startswith(HARNESS)]


def _argv(command):
    """The words of a harness command after its program (bp-parity, python -m bp_parity or python -m reference)."""
    words = shlex.split(command)
    return words[1:] if words[0] == "bp-parity" else words[3:]


def _tox_envs():
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    listed = {e.strip() for e in config["tox"]["envlist"].split(",")}
    return listed | {s.split(":", 1)[1] for s in config.sections() if s.startswith("testenv:")}


def test_the_readme_shows_commands():
    assert len(REFERENCE) >= 15 and any(c.startswith("python impl/") for c in COMMANDS)


@pytest.mark.parametrize("command", REFERENCE)
def test_every_reference_command_parses_and_names_what_exists(command):
    argv = _argv(command)
    before = dict(registry.REGISTRY)
    try:
        args = parse_args(argv)  # an option the CLI no longer has fails here
    finally:
        registry.REGISTRY.clear()
        registry.REGISTRY.update(before)
    impl = getattr(args, "impl", protocol.OWN)
    for name in ("map_file", "path"):  # then --impl names a module on that path
        for value in [getattr(args, name, None)] if name == "map_file" else getattr(args, name, None) or ():
            if value:
                assert (ROOT / value).exists(), f"{command}: {value} does not exist"
    if impl not in PLACEHOLDERS and impl != protocol.OWN and not (getattr(args, "map_file", None) or getattr(args, "path", None)):
        assert (ROOT / impl).exists(), f"{command}: {impl} does not exist"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith(("python impl/", "python benchmarks/"))])
def test_every_script_the_readme_runs_exists(command):
    assert (ROOT / shlex.split(command)[1]).is_file(), command


@pytest.mark.parametrize("command", [c for c in COMMANDS if re.search(r"\btox -e ", c)])
def test_every_tox_environment_the_readme_names_exists(command):
    env = re.search(r"\btox -e (\S+)", command).group(1)
    assert env in _tox_envs(), f"{command}: no tox environment {env}"


EXAMPLES = {  # each example's check as docs/your-code.md shows it, and the sentence that counts it there
    "examples/textbook_layout": ("bp-parity check --impl common.layers --map-file examples/textbook_layout/bp-parity.toml "
                                 "--only-present", "passes all {passed:,} checks of the {pieces} pieces it defines"),
    "examples/homework": ("bp-parity check --impl examples/homework/nn.py --map-file examples/homework/bp-parity.toml "
                          "--only-present", "The homework passes its {passed:,} checks of {pieces} pieces"),
    "examples/cs231n_style": ("bp-parity check --impl examples/cs231n_style/layers.py --only-present",
                              "passes its {passed:,} checks of {pieces} pieces, {skipped} more SKIPPED"),
    "examples/cs231n_style/classifiers": ("bp-parity check --impl examples/cs231n_style/classifiers --only-present",
                                          "The package passes its {passed:,} checks of {pieces} pieces"),
}
EXAMPLE_COMMANDS = {command for command, _ in EXAMPLES.values()}

# the ones that take seconds: golden, the traces, the homework example, your own pieces, the deviations
CHEAP = [c for c in REFERENCE if _argv(c)[0] in ("golden", "deviations", "trace")
         and "my_package" not in c and "--report" not in c or "examples/homework/" in c or "fixtures/pieces/" in c
         or "examples/textbook_layout" in c or "examples/cs231n_style" in c]
CHEAP = [c for c in CHEAP if c not in EXAMPLE_COMMANDS]  # run, and their counts read, by the examples' own test


@pytest.mark.parametrize("command", CHEAP)
def test_the_cheap_commands_run_as_written_and_pass(command, capsys):
    before = dict(registry.REGISTRY)
    try:
        assert main(_argv(command)) == 0, capsys.readouterr().out[-2000:]
    finally:
        registry.REGISTRY.clear()
        registry.REGISTRY.update(before)


def test_the_zoo_table_is_the_zoo():
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| (\S+) (.+?) \| (\S+) \| (\S+) \| (\S+) \| (.+?) \| \d+/\d+ \| [0-9.]+ \|$",
                      PAGES["zoo.md"], flags=re.M)
    names = [r[0] for r in rows]
    paths = zoo.mutant_paths()
    assert names == [p.stem for p in paths], "docs/zoo.md's table and fixtures/mutants/ differ"
    for (name, piece, tensor, caught, blamed, correct, diagnosed), path in zip(rows, paths):
        assert (piece, tensor) == zoo.declared_blame(path), name
        assert (caught, blamed, correct) == ("yes", piece, "yes"), name
        assert diagnosed == (", ".join(zoo.declared_diagnosis(path)) or "none"), name
    count = len(paths)
    assert f"score: caught {count}/{count}, blamed correctly {count}/{count}" in PAGES["zoo.md"]
    assert f"holds {count} broken implementations" in PAGES["zoo.md"]


# The slow ones, run as written but for their size: each reduction is an option the command documents, and what
# they write goes to a temporary folder.
REDUCED = {"--seeds": "2", "--drawn": "2", "--steps": "30", "--iters": "30", "--epochs": "2"}
SHRINK = {  # per command: options set (added where the command as written has none)
    "train-parity": {"--steps": "30"}, "optimizers": {"--steps": "20"}, "zoo": {"--mutant": "affine_db_averaged"},
    "train_bp_two_neuralnet.py": {"--iters": "30"}, "overfit_weight_decay.py": {"--epochs": "2", "--every": "1"},
    "train_convnet.py": {"--epochs": "1", "--train-size": "300", "--eval-samples": "50"},
    "convergence": {"--steps": "50", "--sgd-steps": "300", "--sgd-runs": "4"},
    "train_linear_regression.py": {"--epochs": "2"},
    "train_pmf.py": {"--splits": "u1", "--epochs": "2", "--factors": "10"},
}
WRITES = {"record": "--golden-dir", "train-parity": "--out-dir", "optimizers": "--out-dir", "convergence": "--out-dir",
          "overfit_weight_decay.py": "--png"}
OUTPUTS = {"--out-dir", "--dump-dir", "--golden-dir", "--png", "--report"}
SLOW = [c for c in COMMANDS if c not in CHEAP and c != "bp-parity check" and c not in EXAMPLE_COMMANDS
        and not any(p in c for p in PLACEHOLDERS | {"my_package"})
        and c.startswith((*HARNESS, "python impl/")) and "buy_" not in c]


def _reduced(command, tmp_path):
    """(program, argv) of a README command at its reduced size."""
    words = shlex.split(command)
    program, args = ("reference", _argv(command)) if command.startswith(HARNESS) else (words[1], words[2:])
    name = args[0] if program == "reference" else Path(program).name
    settings = dict(SHRINK.get(name, {}))
    if name in WRITES:
        settings.setdefault(WRITES[name], str(tmp_path / "written"))
    reduced, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg in settings or arg in REDUCED or arg in OUTPUTS:
            value = settings.pop(arg, REDUCED.get(arg, str(tmp_path / "written")))
            reduced += [arg, value]
            i += 2
        else:
            reduced.append(arg)
            i += 1
    for option, value in settings.items():
        reduced += [option, value]
    return program, reduced


def test_the_slow_commands_are_all_reduced():
    assert len(SLOW) >= 12, SLOW


@pytest.mark.parametrize("command", SLOW)
def test_the_slow_commands_run_at_reduced_sizes(command, tmp_path, capsys):
    program, argv = _reduced(command, tmp_path)
    if program == "reference":
        code = main(argv)
    else:
        from bp_parity.impl import (overfit_weight_decay, train_bp_two_neuralnet, train_convnet, train_linear_regression,
                          train_pmf)

        code = {"impl/train_bp_two_neuralnet.py": train_bp_two_neuralnet.main,
                "impl/overfit_weight_decay.py": overfit_weight_decay.main,
                "impl/train_convnet.py": train_convnet.main,
                "impl/train_linear_regression.py": train_linear_regression.main,
                "impl/train_pmf.py": train_pmf.main}[program](argv)
    expected = 1 if "fixtures/mutants/" in command else 0  # a mutant is shown failing
    assert code == expected, (argv, capsys.readouterr().out[-2000:])


def test_the_counts_the_readme_states_are_the_registrys():
    """Counts the README states in words, checked against what they count (timings are dated measurements)."""
    runs = sum(len(c.dtypes) for c in registry.cases())
    assert f"{runs} case runs at each seed" in TEXT
    conv = [c for c in registry.cases() if c.layer in ("im2col", "col2im", "Convolution", "Pooling")]
    assert f"at {len(conv)} cases built for the classic bugs" in TEXT
    assert f"holds {len(zoo.mutant_paths())} broken implementations" in TEXT
    assert f"the {len(zoo.mutant_paths())} of them in `fixtures/mutants/`" in README


def test_the_diagnosis_counts_are_the_mutants_declarations():
    """The zoo's diagnosis counts in the README are the mutants' own `Diagnosis:` lines (tests/test_mutants.py
    proves each line on every run)."""
    declared = [zoo.declared_diagnosis(p) for p in zoo.mutant_paths()]
    some = sum(bool(d) for d in declared)
    assert f"{some} of the {len(declared)} get a right diagnosis, {len(declared) - some} get none" in TEXT
    assert f"{some} of the {len(declared)} mutants get one, and none gets a wrong one" in README


def _blocks(text, kind):
    return re.findall(rf"```{kind}\n(.*?)```", text, flags=re.S)


def test_the_readme_is_short_and_links_every_page_of_docs():
    lines = README.splitlines()
    assert len(lines) <= 250, len(lines)
    prose = [n for n, line in enumerate(lines, 1) if len(line) > 120 and not line.startswith(("  ", "|"))
             and not any(line in block for block in _blocks(README, "(?:text|bash|toml)"))]
    assert not prose, f"README lines over 120 characters outside code blocks and tables: {prose}"
    linked = set(re.findall(r"\]\(docs/([a-z0-9-]+\.md)(?:#[a-z0-9-]+)?\)", README))
    assert linked == set(PAGES), f"pages not linked: {set(PAGES) - linked}; links to no page: {linked - set(PAGES)}"
    for name, page in PAGES.items():
        assert "](../README.md" in page, f"docs/{name} does not link back to the README"
        for target in re.findall(r"\]\(([a-z0-9-]+\.md)(?:#[a-z0-9-]+)?\)", page):
            assert target in PAGES, f"docs/{name} links to docs/{target}, which does not exist"


def test_the_readme_defines_its_terms_before_it_uses_them():
    words = README.index("## Words used here")
    for term in ("twin", "oracle", "mutant", "zoo", "piece", "allowance used", "trace", "family"):
        first = re.search(rf"\b{term}s?\b", README, flags=re.I).start()
        defined = README.index(f"**{term}**", words)
        assert first >= defined - 2, f"{term!r} is used at {first} before its definition at {defined}"


def _tour():
    """The tour's failing command (the bash block naming a mutant) and the report the README prints for it."""
    command = next(c for c in REFERENCE if "fixtures/mutants/" in c and c in README)
    shown = next(b for b in _blocks(README, "text") if "MISMATCH:" in b)
    return command, shown


def test_the_tours_report_is_what_the_command_prints(capsys):
    """Every line of the README's failing report, as the command prints it today (the full report has a few lines
    more: why the tolerance is that size, the same failure elsewhere)."""
    command, shown = _tour()
    assert main(_argv(command)) == 1
    out = capsys.readouterr().out.splitlines()
    missing = [line for line in shown.splitlines() if line.strip() and line not in out]
    assert not missing, missing


def test_the_tours_clean_run_is_what_check_prints(capsys):
    """The README's rows of a clean `check` and its totals: the same rows and counts (the seconds are a timing, and
    the worst allowance used a measurement of the machine's rounding: another BLAS kernel sums in another order, so
    a row's allowance is held below 100% and its other columns, the verdict among them, exactly)."""
    shown = next(b for b in _blocks(README, "text") if "checks over" in b and "0 failed" in b)
    assert "bp-parity check" in COMMANDS  # the main job as the README runs it: this test runs it (not SLOW again)
    assert main(["check"]) == 0
    out = capsys.readouterr().out

    def measured(line):
        line = re.sub(r"\b\d{1,2}(\.\d+)?%", "PERCENT%", " ".join(line.split()))
        return re.sub(r"\(\d+(\.\d+)? s,", "(SECONDS s,", line)

    printed = {measured(line) for line in out.splitlines()}
    for line in shown.splitlines():
        if line.strip() in ("", "..."):
            continue
        assert measured(line) in printed, line


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_each_examples_counts_are_what_check_says(example, capsys):
    """Each example's command as docs/ shows it, run as written (CHEAP leaves it to this test), and the sentence
    that counts its checks."""
    command, sentence = EXAMPLES[example]
    assert command in COMMANDS
    assert main(_argv(command)) == 0
    out = capsys.readouterr().out
    passed, skipped = map(int, re.search(r"checks: (\d+) passed, 0 failed, (\d+) skipped", out).groups())
    table = out.split("\n\n")[[i for i, part in enumerate(out.split("\n\n")) if part.startswith("piece ")][0]]
    pieces = len(table.splitlines()) - 2
    assert sentence.format(passed=passed, pieces=pieces, skipped=skipped) in " ".join(PAGES["your-code.md"].split())

