"""Settings and credentials: every mistake is a message naming the file, the line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import Settings, base_url_from, credentials_from_env, load_settings
from reconciler.errors import ConfigError


def _settings(tmp_path: Path, text: str) -> Settings:
    (tmp_path / "reconciler.yaml").write_text(text, "utf-8")
    return load_settings(tmp_path)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "base_url: https://open.feishu.cn\nmax_chnages: 3\n",
            "reconciler.yaml:2:1: max_chnages: unknown setting; did you mean 'max_changes'?",
        ),
        ("max_changes: -3\n", "reconciler.yaml:1:1: max_changes: expected a whole number ≥ 0, got -3"),
        (
            "user_id_type: email\n",
            "reconciler.yaml:1:1: user_id_type: 'email' is not one of open_id, union_id, user_id",
        ),
        (
            "quotas: {per_second: 0}\n",
            "reconciler.yaml:1:10: quotas.per_second: expected a number from 1 to 10000, got 0",
        ),
        ("quotas: {per_minute: 0.000001}\n", "quotas.per_minute: expected a number from 1 to 600000"),
        ("quotas: {per_second: .inf}\n", "reconciler.yaml:1:22: quotas.per_second: '.inf' is not a finite number"),
        ("quotas:\n  slow_lane_per_second: .nan\n", "reconciler.yaml:2:25: quotas.slow_lane_per_second: '.nan' is"),
        ("max_changes: 2024-01-01\n", "reconciler.yaml:1:14: max_changes: '2024-01-01' is read by YAML as a date"),
        ("protected: !!set {a, b}\n", "reconciler.yaml:1:12: protected: !!set is not allowed"),
        ("protected: bob\n", "reconciler.yaml:1:1: protected: expected a list of handles like ['@ceo']"),
        ("base_url: http://open.feishu.cn\n", "must use https (plain http is allowed only for 127.0.0.1)"),
        (
            "base_url: https://open.feishu.cn/open-apis\n",
            "must be an origin like https://open.feishu.cn, without a path",
        ),
    ],
)
def test_bad_settings_name_file_line_and_fix(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError) as info:
        _settings(tmp_path, text)
    assert message in str(info.value)


def test_defaults_follow_the_docs(tmp_path: Path):
    settings = _settings(tmp_path, "")
    assert (settings.base_url, settings.user_id_type, settings.department_id_type) == (
        "https://open.feishu.cn",
        "open_id",
        "open_department_id",
    )
    assert (settings.quotas.per_second, settings.quotas.per_minute, settings.quotas.slow_lane_per_second) == (
        50,
        1000,
        1,
    )


def test_missing_credentials_say_which_and_never_echo_a_secret():
    with pytest.raises(ConfigError) as info:
        credentials_from_env({"FEISHU_APP_ID": "cli_x"})
    assert "FEISHU_APP_SECRET not set" in str(info.value)
    creds = credentials_from_env({"FEISHU_APP_ID": "cli_x", "FEISHU_APP_SECRET": "s3cret"})
    assert "s3cret" not in repr(creds)


def test_feishu_base_url_overrides_the_file_and_loopback_http_is_allowed():
    assert base_url_from(Settings(), {"FEISHU_BASE_URL": "http://127.0.0.1:8080/"}) == "http://127.0.0.1:8080"
    with pytest.raises(ConfigError, match="FEISHU_BASE_URL"):
        base_url_from(Settings(), {"FEISHU_BASE_URL": "http://10.0.0.1"})
