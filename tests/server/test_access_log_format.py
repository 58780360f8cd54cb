"""The log setup every entry point shares (issuer.logs): ``[log]``, the flags, the two formats."""

from __future__ import annotations

import argparse
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from issuer.config import ConfigError, LogConfig, LogFormat, LogLevel, parse_config
from issuer.logs import (
    FIELDS,
    LogSettings,
    add_arguments,
    configure,
    current,
    settings_for,
)

MINIMAL = (
    'data_dir = "data"\n[server]\ndev_plaintext = true\n'
    '[hsm]\ntoken = "t"\npin_source = "env:PIN"\n'
)


@pytest.fixture
def root_restored() -> Iterator[None]:
    """configure() changes the root logger: put its handlers and level back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_log_section_is_read_and_refused_when_wrong(tmp_path: Path) -> None:
    config = parse_config(MINIMAL + '[log]\nformat = "json"\nlevel = "WARNING"\n', base=tmp_path)
    assert config.log == LogConfig(format=LogFormat.JSON, level=LogLevel.WARNING)
    assert parse_config(MINIMAL, base=tmp_path).log == LogConfig()  # text, INFO
    with pytest.raises(ConfigError) as refused:
        parse_config(MINIMAL + '[log]\nformat = "yaml"\n', base=tmp_path)
    assert refused.value.problems == ("log.format: got string 'yaml', expected one of text, json",)


def test_the_command_line_overrides_the_file() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    in_file = LogConfig(format=LogFormat.JSON, level=LogLevel.WARNING)
    assert settings_for(in_file, parser.parse_args([])) == LogSettings(
        format=LogFormat.JSON, level=LogLevel.WARNING
    )
    given = parser.parse_args(["--log-format", "text", "--log-level", "DEBUG"])
    assert settings_for(in_file, given) == LogSettings(format=LogFormat.TEXT, level=LogLevel.DEBUG)
    assert settings_for(None, None) == LogSettings()
    with pytest.raises(SystemExit):
        parser.parse_args(["--log-format", "yaml"])


def test_configure_twice_replaces_its_handler_and_json_keeps_a_traceback_on_one_line(
    root_restored: None,
) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure(LogSettings(), stream=first)
    configure(LogSettings(format=LogFormat.JSON, level=LogLevel.DEBUG), stream=second)
    assert current().format is LogFormat.JSON
    log = logging.getLogger("zorgid.test.logs")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed", extra={FIELDS: {"level": "forged", "request_id": "r-1"}})
    log.debug("quiet %s", "detail")
    assert first.getvalue() == ""  # the first handler is gone, not stacked
    lines = second.getvalue().splitlines()
    assert len(lines) == 2
    failed, quiet = (json.loads(line) for line in lines)
    assert failed["level"] == "ERROR" and failed["message"] == "it failed"
    assert failed["logger"] == "zorgid.test.logs" and failed["request_id"] == "r-1"
    assert "ValueError: boom" in failed["exception"] and "Traceback" in failed["exception"]
    assert quiet["message"] == "quiet detail" and quiet["level"] == "DEBUG"


def test_text_is_the_default_and_a_level_filters(root_restored: None) -> None:
    out = io.StringIO()
    configure(LogSettings(level=LogLevel.WARNING), stream=out)
    logging.getLogger("zorgid.test.logs").info("hidden")
    logging.getLogger("zorgid.test.logs").warning("shown", extra={FIELDS: {"code": "OK"}})
    (line,) = out.getvalue().splitlines()
    assert line.endswith(" WARNING zorgid.test.logs shown code=OK")
