"""The benchmark prints one line per workload in the agreed format, and every workload trains."""
import ast
import importlib.util
import re
import sys
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


BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
TWINS = {"torch_bench.py": ("pytorch", {"torch"}), "jax_bench.py": ("jax", {"jax", "optax"})}


def _report():
    """benchmarks/report.py, the twins' report line (a script folder, not a package: loaded from its path)."""
    spec = importlib.util.spec_from_file_location("report", BENCHMARKS / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_twins_report_line_has_toygrads_fields_in_toygrads_order():
    ours = bench.run("grok", steps=2).split()
    theirs = _report().line("grok", "jax", 2, 0.5, 1e6, 0.25, 1.0, {"train_acc": 0.5, "test_acc": 0.25}).split()
    assert theirs[1] == "jax" and ours[1] == "toygrad"
    assert [f.split("=")[0] for f in theirs[2:]] == [f.split("=")[0] for f in ours[2:]], (ours, theirs)


@pytest.mark.parametrize("twin", TWINS)
def test_each_twin_prints_through_the_report_line_with_toygrads_extras(twin):
    """Its one report.line call names its framework, and it reports every extra toygrad.bench does (read from its
    source: the twin's framework is not installed here)."""
    tree = ast.parse((BENCHMARKS / twin).read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and ast.unparse(node.func) == "report.line"]
    assert [ast.literal_eval(call.args[1]) for call in calls] == [TWINS[twin][0]]
    keys = {key.value for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys
            if isinstance(key, ast.Constant)}
    extras = set().union(*(bench.build(name, 1).extras() for name in bench.WORKLOADS))
    assert extras == {"train_acc", "test_acc", "models_above_0.95"} and extras <= keys, keys


def _imports(path):
    """The top-level modules a file imports; a relative import counts as "." (a script folder has no package)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0] if node.level == 0 else ".")
    return names


@pytest.mark.parametrize("script, allowed", [(twin, framework | {"report"}) for twin, (_, framework) in TWINS.items()]
                         + [("report.py", set())])
def test_the_benchmark_scripts_import_nothing_of_toygrad(script, allowed):
    """Each twin runs in its own virtual environment, without toygrad or numpy: it imports its framework, the
    standard library and benchmarks/report.py, which imports the standard library only."""
    imported = _imports(BENCHMARKS / script)
    assert imported - sys.stdlib_module_names <= allowed, imported
