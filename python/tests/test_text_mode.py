"""Text mode (``open(uri, False)``): UTF-8 str results, lines and iteration."""

from __future__ import annotations

import io

import pytest

from ossmodelconnector import OssModelConnector

# Multi-byte characters on purpose, many lines so that a line and a character straddle the
# 1 MiB buffer boundary somewhere.
LINES = [f"line {i}: ünïcødé 文件 🚀 {'x' * (i % 97)}\n" for i in range(40_000)]
TEXT = "".join(LINES)


@pytest.fixture
def connector(files_root, files_server, oss_env, tmp_config):
    (files_root / "files" / "notes.txt").write_bytes(TEXT.encode("utf-8"))
    (files_root / "files" / "crlf.txt").write_bytes(b"a\r\nb\r\n")
    return OssModelConnector(files_server.endpoint, config_path=tmp_config)


def test_documented_text_mode_open(connector):
    # --- from the document: open as text mode ---------------------------------------------
    obj1 = connector.open("oss://files/notes.txt", False)
    # --------------------------------------------------------------------------------------
    assert isinstance(obj1, io.TextIOBase)
    data = obj1.read()
    assert isinstance(data, str) and data == TEXT
    obj1.seek(0)
    assert obj1.read(7) == "line 0:"
    obj1.close()
    assert obj1.closed


def test_readline_readlines_and_iteration(connector):
    with connector.open("oss://files/notes.txt", binary=False) as f:
        assert f.readline() == LINES[0]
        assert f.readline() == LINES[1]
        assert f.readlines() == LINES[2:]
        assert f.readline() == ""
    with connector.open("oss://files/notes.txt", binary=False) as f:
        assert list(f) == LINES
    with connector.open("oss://files/crlf.txt", binary=False) as f:
        assert f.readlines() == ["a\n", "b\n"], "universal newlines, as with open(path)"


def test_binary_mode_iterates_bytes_lines(connector):
    with connector.open("oss://files/notes.txt") as f:
        first = next(iter(f))
    assert first == LINES[0].encode("utf-8")
