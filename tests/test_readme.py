"""The README's example is examples/own_toy.py, word for word, and it runs and shows superposition."""
import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_is_the_example_file():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Plug toygrad into your own toy", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    source = (ROOT / "examples" / "own_toy.py").read_text()
    body = source.split('"""', 2)[2].lstrip("\n")          # the file minus its docstring
    assert block == body


def test_readme_example_runs_and_shows_superposition(capsys):
    runpy.run_path(str(ROOT / "examples" / "own_toy.py"), run_name="__main__")
    out = capsys.readouterr().out
    counts = [int(c) for c in re.search(r"sparse: \[([\d ]+)\]", out).group(1).split()]
    assert counts[0] <= 6                 # dense: about m = 5 features
    assert counts[-1] >= 10               # sparse: far more than m, in superposition
