import importlib
import re
import sys

import pytest

from mtjexplore import cli
from mtjexplore.errors import MissingDependencyError, MTJExploreError, require


def test_every_subcommand_is_registered():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == {"demo", "app", "reproduce", "sweep"}


def test_user_errors_print_a_message_and_exit_2(capsys, tmp_path):
    code = cli.main(["reproduce", "--dies", "0", "--out", str(tmp_path / "r"), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("mtjexplore reproduce: error:") and "dies" in err


def test_unknown_command_is_rejected():
    with pytest.raises(SystemExit):
        cli.main(["fly"])


@pytest.mark.parametrize("argv", [[], ["demo"], ["app"], ["reproduce"], ["sweep"]])
def test_help_shows_no_rst_markup(argv, capsys):
    with pytest.raises(SystemExit):
        cli.main([*argv, "--help"])
    text = capsys.readouterr().out
    assert "usage: mtjexplore" in text
    assert "``" not in text and not re.search(r":(class|func|mod):`", text)


def test_plain_text_strips_roles_and_double_backticks():
    assert cli.plain_text("``a`` and :class:`~x.Y` and `z`") == "a and x.Y and `z`"


def test_a_missing_extra_is_an_import_error_and_an_mtjexplore_error():
    with pytest.raises(MissingDependencyError) as info:
        require(["json", "no_such_module_for_mtjexplore"], "Thing", "thing")
    assert isinstance(info.value, ImportError) and isinstance(info.value, MTJExploreError)
    assert str(info.value) == 'needs Thing: pip install "mtjexplore[thing]"'


def test_sweep_without_dask_prints_the_install_hint_not_a_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # find_spec() -> None: not installed
    code = cli.main(["sweep", "--quick", "--dies", "1", "--out", str(tmp_path / "s.nc"), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err == 'mtjexplore sweep: needs Dask: pip install "mtjexplore[dask]"\n'
    assert "Traceback" not in out + err and not (tmp_path / "s.nc").exists()


def test_app_without_voila_prints_the_install_hint(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "voila", None)
    assert cli.main(["app", "--no-browser", "--port", "0"]) == 2
    assert capsys.readouterr().err == ('mtjexplore app: needs Voilà and the widget libraries: '
                                       'pip install "mtjexplore[apps]"\n')


def test_importing_the_widgets_without_bqplot_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "bqplot", None)
    for name in [m for m in sys.modules if m == "mtjexplore.widgets" or m.startswith("mtjexplore.widgets.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r'mtjexplore\.widgets needs bqplot \(not installed\): '
                                          r'pip install "mtjexplore\[widgets\]"') as info:
        importlib.import_module("mtjexplore.widgets")
    assert isinstance(info.value, MTJExploreError)


def test_listening_beyond_loopback_warns_and_a_foreign_address_is_named(capsys):
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the command stops before serving.
    assert cli.main(["app", "--ip", "192.0.2.1", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "mtjexplore app: warning: --ip 192.0.2.1 serves beyond this machine, with no login" in err
    assert "authenticating proxy" in err and "--behind-proxy" in err
    assert "mtjexplore app: error: 192.0.2.1 is not an address of this machine" in err


def test_behind_a_proxy_there_is_no_warning(capsys):
    assert cli.main(["app", "--ip", "192.0.2.1", "--behind-proxy", "--no-browser"]) == 2
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--ip", "localhost.example"], "ip must be an IP address to listen on"),
    (["--base-url", "mtj"], "base_url must start and end with '/'"),
    (["--preheat", "-1"], "preheat must be an int >= 0"),
    (["--max-kernels", "-2"], "max_kernels must be an int >= 0"),
    (["--allow-host", "http://class.example.org"], "--allow-host takes a host name or address"),
])
def test_bad_app_options_are_named_with_the_fix(argv, message, capsys):
    assert cli.main(["app", "--no-browser", "--port", "0", *argv]) == 2
    assert message in capsys.readouterr().err
