"""The benchmark's text output: tables split to 100 columns, wrapped notes, the progress bar, the
optional-peers line, and a whole (tiny) suite run whose every printed line fits 100 columns."""
import io

import pytest

from bench import _harness
from bench.__main__ import main
from bench._format import WIDTH, bullets, markdown_table, paragraph
from bench._harness import Context


def test_wide_table_is_split_repeating_the_key_columns():
    headers = ["dataset", "dtype"] + [f"a long column header {i}" for i in range(8)]
    rows = [["synthetic 20k×100 f64", "float64"] + [f"{i * 1.5:.3f}" for i in range(8)],
            ["digits", "float32"] + ["–"] * 8]
    text = markdown_table(headers, rows, keys=2)
    lines = text.splitlines()
    assert max(len(s) for s in lines) <= WIDTH
    tables = text.split("\n\n")
    assert len(tables) >= 2
    for t in tables:
        head = t.splitlines()[0]
        assert head.startswith("| dataset") and "dtype |" in head
        assert len(t.splitlines()) == 2 + len(rows)
    # every value column appears exactly once over the parts
    for i in range(8):
        assert text.count(f"a long column header {i} ") == 1


def test_narrow_table_is_left_whole():
    text = markdown_table(["a", "b"], [["x", 1], ["y", None]])
    assert text.splitlines() == ["| a | b |", "|:--|--:|", "| x | 1 |", "| y | – |"]


def test_paragraphs_and_bullets_wrap():
    words = "word " * 80
    assert all(len(s) <= WIDTH for s in paragraph(words).splitlines())
    out = bullets([words, "short"]).splitlines()
    assert all(len(s) <= WIDTH for s in out)
    assert out[0].startswith("- ") and out[1].startswith("  ") and out[-1] == "- short"


def test_progress_lines_off_a_terminal():
    stream = io.StringIO()
    ctx = Context(out_dir=None, stream=stream, tty=False)
    ctx.progress("suite", 2)
    with ctx.step("suite", "first") as s:
        s.result = "fine"
    with ctx.step("suite", "second"):
        pass
    ctx.finish("suite", "finished")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[suite 1/2 0:00] first (0.0 s): fine")
    assert lines[1] == "[suite 2/2 0:00] second (0.0 s)"
    assert lines[2] == "[suite] finished"
    assert "\r" not in stream.getvalue()


def test_progress_bar_on_a_terminal_redraws_in_place():
    stream = io.StringIO()
    ctx = Context(out_dir=None, stream=stream, tty=True)
    ctx.progress("suite", 4)
    with ctx.step("suite", "step one"):
        pass
    out = stream.getvalue()
    assert "\r\x1b[K[suite] |#####...............| 1/4 0:00" in out
    assert "\n" not in out


def test_missing_peers_named_once(monkeypatch):
    monkeypatch.setattr(_harness, "_optional_cache", {})
    for env in ("SCE_BENCH_NO_TORCH", "SCE_BENCH_NO_GLUM"):
        monkeypatch.setenv(env, "1")
    line = _harness.missing_peers_line(["torch", "glum", "torch"])
    assert line == "not installed (optional peers): torch, glum — pip install 'sce[peers]'"
    assert _harness.get_peer("torch") is None


@pytest.mark.parametrize("suite", ["kernels"])
def test_quick_suite_output_fits_100_columns(suite, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCE_BENCH_NO_MATPLOTLIB", "1")
    monkeypatch.setattr(_harness, "_optional_cache", {})
    assert main([suite, "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"## {suite}" in out and "PASS" not in out and "MISS" not in out
    assert all(len(s) <= WIDTH for s in out.splitlines()), max(out.splitlines(), key=len)
    assert (tmp_path / f"{suite}.json").is_file()
