"""The sweep command (grokinterp.sweep.__main__, `grokinterp sweep`): user mistakes are one-line errors, exit 2."""

from __future__ import annotations

import sys

from grokinterp import cli
from grokinterp.sweep.__main__ import main
from tests.sweep.helpers import TINY_SET, write_spec


def _one_line_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err
    assert needle in err, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err


def test_cli_user_mistakes_exit_2(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert cli.main(["sweep", str(tmp_path / "missing.toml"), "--out", str(out)]) == 2
    _one_line_error(capsys, "missing.toml not found")
    (tmp_path / "bad.toml").write_text('preset = "mod113-small"\n[grid\n')
    assert main([str(tmp_path / "bad.toml"), "--out", str(out)]) == 2
    _one_line_error(capsys, "invalid TOML")
    spec = write_spec(tmp_path / "key.toml", grid={"train.wd": [0.0, 1.0]})
    assert main([str(spec), "--out", str(out)]) == 2
    _one_line_error(capsys, "unknown config key 'train.wd'")
    assert not out.exists()  # nothing was written for a bad spec
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    spec = write_spec(tmp_path / "ok.toml", set_=TINY_SET)
    assert main([str(spec), "--out", str(out), "--executor", "ray"]) == 2
    _one_line_error(capsys, "the ray executor needs ray: pip install 'grokinterp[ray]'")
    assert not out.exists()
