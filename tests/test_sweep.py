"""Sweeps: groups share the instance axis, results are saved as groups finish, a killed sweep resumes to the
same results, and a dask cluster gives the same results as local processes."""
import json

import pytest

from toygrad.sweep import grid, groups, load, sweep
from sweep_toy import train_group

POINTS = grid(width=[1, 2, 3], lr=[0.01, 0.1], seed=[0, 1])         # 12 points in 3 groups of 4


def by_settings(records):
    return sorted(records, key=lambda r: json.dumps(r["settings"], sort_keys=True))


def test_grid_and_groups():
    assert len(POINTS) == 12 and POINTS[0] == {"width": 1, "lr": 0.01, "seed": 0}
    split = groups(POINTS, ("width",))
    assert [len(g) for g in split] == [4, 4, 4] and {p["width"] for p in split[1]} == {2}
    with pytest.raises(ValueError, match=r"group_by names \['depth'\]"):
        groups(POINTS, ("depth",))
    with pytest.raises(TypeError, match="grid: lr must be a list of values, got 0.1"):
        grid(lr=0.1)


def test_sweep_saves_every_point_with_its_settings_and_a_rerun_trains_nothing(tmp_path):
    results = tmp_path / "sweep.jsonl"
    records = sweep(train_group, POINTS, group_by=("width",), results=results, workers=2, progress=False)
    assert [r["settings"] for r in records] == POINTS
    assert all(r["result"]["loss"] >= 0 for r in records)
    assert len(results.read_text().splitlines()) == 12
    # a higher learning rate fits better: the groups really trained, one model per point
    for r_slow, r_fast in zip(records[0::4], records[2::4]):
        assert r_fast["result"]["loss"] < r_slow["result"]["loss"]
    again = sweep(train_group, POINTS, group_by=("width",), results=results, workers=2, progress=False)
    assert again == records and len(results.read_text().splitlines()) == 12


def test_resume_false_starts_afresh(tmp_path, monkeypatch):
    results = tmp_path / "sweep.jsonl"
    first = sweep(train_group, POINTS, group_by=("width",), results=results, workers=1, progress=False)
    monkeypatch.setenv("SWEEP_FAIL_ON", "3")                  # any training now raises at width 3
    assert sweep(train_group, POINTS, group_by=("width",), results=results, workers=1, progress=False) == first
    with pytest.raises(RuntimeError, match="killed at width 3"):
        sweep(train_group, POINTS, group_by=("width",), results=results, resume=False, workers=1, progress=False)
    assert all(r["settings"]["width"] != 3 for r in load(results))   # the old records went first


def test_a_sweep_killed_half_way_resumes_to_the_same_results(tmp_path, monkeypatch):
    whole = sweep(train_group, POINTS, group_by=("width",), results=tmp_path / "whole.jsonl", workers=1,
                  progress=False)
    results = tmp_path / "killed.jsonl"
    monkeypatch.setenv("SWEEP_FAIL_ON", "3")
    with pytest.raises(RuntimeError, match="killed at width 3"):
        sweep(train_group, POINTS, group_by=("width",), results=results, workers=1, progress=False)
    saved = load(results)
    assert 0 < len(saved) < 12 and all(r["settings"]["width"] != 3 for r in saved)
    monkeypatch.delenv("SWEEP_FAIL_ON")
    resumed = sweep(train_group, POINTS, group_by=("width",), results=results, workers=1, progress=False)
    assert resumed == whole
    assert by_settings(load(results)) == by_settings(load(tmp_path / "whole.jsonl"))


def test_a_dask_cluster_gives_the_same_results_as_local_processes(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = sweep(train_group, POINTS, group_by=("width",), results=tmp_path / "local.jsonl", workers=2,
                  progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        remote = sweep(train_group, POINTS, group_by=("width",), results=tmp_path / "dask.jsonl",
                       scheduler=cluster.scheduler_address, progress=False)
    assert remote == local
