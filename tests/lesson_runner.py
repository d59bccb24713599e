"""Load a lesson script (lessons/NN_name.py is not an importable module name) and run its quick mode."""
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    path = ROOT / "lessons" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"lesson_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module            # so that its functions can be sent to a worker process by name
    spec.loader.exec_module(module)
    return module


def run_quick(name, out, **overrides):
    """The lesson's --quick settings (plus overrides), run into `out`; returns (module, metrics)."""
    lesson = load(name)
    settings = replace(lesson.Settings(), **{**lesson.QUICK, **overrides})
    return lesson, lesson.main(settings, out)


def quick_fixture(name):
    """A module-scoped fixture that runs lesson `name` in quick mode once and gives (out, metrics) to each test."""
    @pytest.fixture(scope="module")
    def quick(tmp_path_factory):
        out = tmp_path_factory.mktemp(name)
        return out, run_quick(name, out)[1]
    return quick
