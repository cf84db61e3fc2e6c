"""Tests for mtjexplore.serve.appserver: the Voilà command, app discovery and a real server run."""

import json
import os
import re
import socket
import sys
import urllib.request
from pathlib import Path

import nbformat
import psutil
import pytest

from mtjexplore.serve import appserver
from mtjexplore.study import app_data
from mtjexplore.serve.appserver import AppServer, AppServerError, app_path, available_apps, voila_options
from mtjexplore.cli import build_parser
from mtjexplore.errors import DataFileError, ParameterError

REPO = Path(__file__).resolve().parents[2]


def test_the_packaged_apps_are_found():
    assert available_apps() == ["ensemble", "explorer"]
    assert app_path("explorer.ipynb") == appserver.APPS_DIR / "explorer.ipynb"


def test_the_repository_apps_folder_is_the_packaged_one():
    # One copy of each app: the top-level apps/ link points at mtjexplore/apps.
    assert (REPO / "apps").resolve() == appserver.APPS_DIR


@pytest.mark.parametrize("name", ["explorer", "ensemble"])
def test_apps_are_saved_without_outputs(name):
    nb = json.loads(app_path(name).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_an_unknown_app_names_the_available_ones():
    with pytest.raises(ParameterError, match=r"no app named 'explorr'; available apps: ensemble, explorer"):
        app_path("explorr")


def test_voila_options_bind_localhost_hide_sources_and_cull_kernels():
    opts = voila_options(9123, cull_idle_timeout_s=60, cull_interval_s=10)
    assert opts["Voila.ip"] == "127.0.0.1"
    assert opts["Voila.port"] == 9123 and opts["Voila.port_retries"] == 0
    assert opts["VoilaConfiguration.strip_sources"] is True
    assert opts["VoilaConfiguration.show_tracebacks"] is False
    assert opts["MappingKernelManager.cull_idle_timeout"] == 60
    assert opts["MappingKernelManager.cull_interval"] == 10


def test_voila_waits_long_enough_for_a_cell_output_when_kernels_load_at_once():
    # nbclient's 4 s dropped the app cell's output while a pool of kernels loaded (blank pages)
    assert voila_options(9123)["VoilaExecutor.iopub_timeout"] >= 60


def test_preheating_passes_the_refill_quiet_spell_and_a_bad_one_is_refused():
    opts = voila_options(9123, preheat=2, refill_quiet_s=5)
    assert opts["VoilaConfiguration.default_pool_size"] == 2 and opts["ClassroomVoila.refill_quiet_s"] == 5.0
    assert "ClassroomVoila.refill_quiet_s" not in voila_options(9123), "no pool, nothing to refill"
    with pytest.raises(ParameterError, match=r"refill_quiet_s must be a number of seconds >= 0"):
        AppServer(port=0, preheat=2, refill_quiet_s=-1)


def test_kernels_get_the_shared_cache_the_queue_and_the_lean_malloc(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # set by the person starting the server: kept
    env = AppServer(port=0, env={"MTJEXPLORE_TRAINING_SLOTS": "5"})._child_env()
    assert env["MTJEXPLORE_DATA_CACHE"] == str(tmp_path / "mtjexplore") and (tmp_path / "mtjexplore").is_dir()
    assert env["MALLOC_ARENA_MAX"] == "2" and env["MALLOC_MMAP_THRESHOLD_"] == "1048576"
    assert env["OMP_NUM_THREADS"] == "3" and env["MTJEXPLORE_TRAINING_SLOTS"] == "5"
    assert appserver.kernel_env()["MTJEXPLORE_TRAINING_SLOTS"] == str(max(os.cpu_count() - 1, 1))
    assert AppServer(port=0, training_slots=1)._child_env()["MTJEXPLORE_TRAINING_SLOTS"] == "1"
    with pytest.raises(ParameterError, match="training_slots must be an int >= 0"):
        AppServer(port=0, training_slots=-1)


def test_the_command_gives_every_option_once():
    cmd = AppServer(port=0).command
    assert cmd[:3] == [sys.executable, "-m", "mtjexplore.serve"] and cmd[3] == str(appserver.APPS_DIR)
    keys = [arg.split("=")[0] for arg in cmd[4:]]
    assert len(keys) == len(set(keys))
    assert "--Voila.open_browser=False" in cmd


@pytest.mark.parametrize("port", [-1, 70000, 8866.0, True])
def test_a_bad_port_is_refused(port):
    with pytest.raises(ParameterError, match=r"port must be an int in \[0, 65535\]"):
        AppServer(port=port)


def test_a_busy_port_is_refused_with_the_fix():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(AppServerError, match=rf"port {port} on 127.0.0.1 is already in use; .*--port 0"):
            AppServer(port=port)


def test_the_cli_parses_the_app_subcommand():
    args = build_parser().parse_args(["app", "ensemble", "--port", "0", "--no-browser"])
    assert (args.name, args.port, args.no_browser, args.cull_idle_timeout) == ("ensemble", 0, True, 120)
    default = build_parser().parse_args(["app"])
    assert (default.name, default.port, default.no_browser) == ("explorer", 8866, False)
    assert default.refill_quiet == 10.0 and default.training_slots is None
    assert build_parser().parse_args(["app", "--training-slots", "1"]).training_slots == 1
    assert build_parser().parse_args(["app", "--preheat", "4", "--refill-quiet", "20"]).refill_quiet == 20.0


def test_the_cli_refuses_an_unknown_app(capsys):
    from mtjexplore.cli import main

    assert main(["app", "nope", "--no-browser"]) == 2
    assert "no app named 'nope'" in capsys.readouterr().err


@pytest.fixture
def probe_folder(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("SECRET_SOURCE = 6 * 7\nprint('visible', SECRET_SOURCE)"),
                nbformat.v4.new_code_cell("raise ValueError('traceback-text')")]
    nbformat.write(nb, tmp_path / "probe.ipynb")
    return tmp_path


def test_a_served_page_shows_outputs_but_no_source_nor_traceback(probe_folder, tmp_path):
    server = AppServer(port=0, root=probe_folder, log_path=tmp_path / "voila.log")
    with server:
        html = urllib.request.urlopen(server.app_url("probe"), timeout=60).read().decode()
        kernels = [p for p in psutil.Process(server.process.pid).children(recursive=True)
                   if "ipykernel" in " ".join(p.cmdline())]
    assert "visible 42" in html
    assert "SECRET_SOURCE" not in html
    assert "traceback-text" not in html and "ValueError" not in html
    assert kernels, "the page should have started a kernel"
    gone, alive = psutil.wait_procs(kernels, timeout=10)
    assert not alive, "stopping the server must shut its kernels down"


def test_pages_use_the_apps_template_unless_voilas_is_asked_for(probe_folder, tmp_path):
    pages = {}
    for template in ("default", "lab"):
        server = AppServer(port=0, root=probe_folder, log_path=tmp_path / f"voila-{template}.log")
        if template == "lab":
            server.options["VoilaConfiguration.template"] = "lab"
        with server:
            pages[template] = urllib.request.urlopen(server.app_url("probe"), timeout=60).read().decode()
    ours, voilas = pages["default"], pages["lab"]
    assert 'id="mtj-loading-elapsed"' in ours and "@keyframes" not in ours and "cdn.jsdelivr" not in ours
    assert "visible 42" in ours
    assert 'id="mtj-loading-elapsed"' not in voilas and "@keyframes rotation" in voilas


def test_a_server_that_cannot_start_reports_its_log(tmp_path):
    server = AppServer(port=0, root=tmp_path, log_path=tmp_path / "voila.log")
    server.options["Voila.no_such_trait"] = "x"
    server.options["Voila.port"] = "not-a-port"
    with pytest.raises(AppServerError, match=r"Voilà exited with code \d+ before serving"):
        server.start(timeout_s=30)
    assert server.process is None


@pytest.mark.parametrize("method", ["software", "statistics_aware"])
def test_the_shipped_app_weights_load(method):
    weights = app_data.app_weights(method)
    assert weights.w1.shape == (101, 90) and weights.w2.shape == (91, 10)
    assert weights.attrs["method"] == method


def test_the_shipped_study_results_cover_three_methods_on_36_dies():
    results = app_data.app_results()
    assert list(results.method.values) == ["software", "defect_aware", "statistics_aware"]
    assert results.error.dims == ("method", "die") and results.sizes["die"] == 36
    assert {"n_defects", "n_short"} <= set(results.coords)
    assert 0 < float(results.ideal_error) < 0.3


def test_an_unknown_weights_group_says_how_to_rebuild():
    with pytest.raises(DataFileError, match=r"no group 'nope'.*make_app_weights.py"):
        app_data.app_weights("nope")


def test_the_app_command_prints_the_url_serves_it_and_stops_on_sigterm():
    import signal
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "mtjexplore.cli", "app", "ensemble", "--port", "0",
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    try:
        lines = []
        for line in proc.stdout:  # waits on the command's own output, line by line
            lines.append(line)
            if "press Ctrl+C" in line:
                break
        text = "".join(lines)
        url = re.search(r"ensemble is at (http://127\.0\.0\.1:\d+/voila/render/ensemble\.ipynb)", text)
        assert url, text
        assert "also at http://127.0.0.1:" in text and "explorer.ipynb" in text
        with urllib.request.urlopen(url.group(1).rsplit("/voila/", 1)[0] + "/", timeout=30) as response:
            assert response.status == 200
        voila = [p for p in psutil.Process(proc.pid).children(recursive=True)
                 if "mtjexplore.serve" in " ".join(p.cmdline())]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert "mtjexplore app: stopping" in proc.stdout.read()
        gone, alive = psutil.wait_procs(voila, timeout=10)
        assert voila and not alive, "SIGTERM to the command must stop its Voilà server"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
