import pytest

from mtjexplore import cli


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
