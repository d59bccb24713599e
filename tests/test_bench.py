"""The benchmark prints one line per workload in the agreed format, and every workload trains."""
import re

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
