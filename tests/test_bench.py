"""The benchmark prints one line per workload in the agreed format, and every workload trains."""
import ast
import importlib.util
import re
from pathlib import Path

import pytest

from toygrad import bench

LINE = re.compile(r"^(\S+) toygrad steps=(\d+) seconds=([\d.]+) us_per_step=([\d.]+) gflops=([\d.]+) final_loss=(\S+)")


@pytest.mark.parametrize("name", list(bench.WORKLOADS))
def test_each_workload_reports_one_line(name):
    line = bench.run(name, steps=3)
    match = LINE.match(line)
    assert match and match.group(1) == name and match.group(2) == "3", line
    assert float(match.group(6)) > 0


def test_unknown_workload_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        bench.main(["tms", "nope"])
    assert "unknown workload nope" in capsys.readouterr().err


def _report():
    """benchmarks/report.py, the twins' report line (a script folder, not a package: loaded from its path)."""
    path = Path(__file__).parents[1] / "benchmarks" / "report.py"
    spec = importlib.util.spec_from_file_location("report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_twins_report_in_the_same_format():
    """The PyTorch and JAX twins' line has toygrad's fields in toygrad's order, with their framework's name."""
    ours = bench.run("grok", steps=2).split()
    theirs = _report().line("grok", "jax", 2, 0.5, 1e6, 0.25, 1.0, {"train_acc": 0.5, "test_acc": 0.25}).split()
    assert theirs[1] == "jax" and ours[1] == "toygrad"
    assert [f.split("=")[0] for f in theirs[2:]] == [f.split("=")[0] for f in ours[2:]], (ours, theirs)


@pytest.mark.parametrize("twin, framework", [("torch_bench.py", {"torch"}), ("jax_bench.py", {"jax", "optax"})])
def test_the_twins_import_nothing_of_toygrad(twin, framework):
    """Each twin runs in its own virtual environment, without toygrad: it imports its framework, the standard
    library and benchmarks/report.py only."""
    tree = ast.parse((Path(__file__).parents[1] / "benchmarks" / twin).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported - framework <= {"math", "time", "report"}, imported
