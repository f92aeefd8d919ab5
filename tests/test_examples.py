"""The textbook's shopping examples print the book's numbers, run either way."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = {
    "buy_apple": "price: 220\ndApple: 2.2\ndApple_num: 110\ndTax: 200\n",
    "buy_orange_apple": (
        "price: 715\ndApple: 2.2\ndApple_num: 110\ndOrange: 3.3000000000000003\n"
        "dOrange_num: 165\ndTax: 650\n"
    ),
}


@pytest.mark.parametrize("example", sorted(EXPECTED))
@pytest.mark.parametrize("how", ["script", "module"])
def test_example_prints_the_books_numbers(example, how):
    command = [sys.executable, f"impl/{example}.py"] if how == "script" else [sys.executable, "-m", f"impl.{example}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == EXPECTED[example]
