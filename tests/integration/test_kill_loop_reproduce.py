"""A small ``kill -9`` loop on ``mtjexplore reproduce`` (issue 13; the 50-kill loop is
``scripts/kill_loop_reproduce.py``, its figures in ``benchmarks/results/kill_loop_reproduce.txt``).

Real processes killed with SIGKILL at random moments, all into one folder: after every kill each
file of the study is absent or complete; the temporary files of a killed run are gone once a later
run got past its start; the final rerun finishes the rest and equals the uninterrupted run.
"""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kill_loop_reproduce.py"


def _script():
    spec = importlib.util.spec_from_file_location("kill_loop_reproduce", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_killed_study_resumes_to_the_uninterrupted_result(tmp_path):
    counts = _script().kill_loop(tmp_path, n_kills=4, preset="tiny", dies=2, seed=0, rng_seed=1,
                                 log=lambda message: None)
    assert counts["kills"] == 4, counts
    assert counts["incomplete_files_after_kills"] == 0, counts
    assert counts["stale_temp_files_surviving_a_rerun"] == 0, counts
    assert counts["temp_files_left_after_final_run"] == 0, counts
    assert counts["final_equal_to_uninterrupted"], counts
    assert counts["rounds_equal_to_uninterrupted"] == counts["rounds_finished"], counts
    assert counts["temp_files_left_after_finished_runs"] == 0, counts
    if counts["files_published_before_final_run"] > 3:  # the trained weights were there: resumed, not redone
        assert counts["final_run_stage_files_reused"] >= 1, counts

def test_the_comparison_sees_a_changed_number(tmp_path):
    """The final check could fail: a changed error in results.nc is reported."""
    import mtjexplore as mx
    from mtjexplore.study.reproduce import reproduce, tiny_settings

    script = _script()
    for name in ("a", "b"):
        reproduce(1, seed=0, out=tmp_path / name, settings=tiny_settings(), progress=False)
    assert script.compare(tmp_path / "a", tmp_path / "b") == []
    res = mx.load(tmp_path / "b" / "results.nc")
    res["error"][0, 0] += 0.01
    mx.save(res, tmp_path / "b" / "results.nc", overwrite=True)
    assert script.compare(tmp_path / "a", tmp_path / "b") == ["results.nc"]
    assert script.check_complete(tmp_path / "a") == []
    (tmp_path / "a" / "results.nc").write_bytes((tmp_path / "a" / "results.nc").read_bytes()[:500])
    assert any("results.nc" in problem for problem in script.check_complete(tmp_path / "a"))
