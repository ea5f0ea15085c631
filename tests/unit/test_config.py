from __future__ import annotations

import pytest

from stacks.config import ConfigError, ServiceConfig, load_config


def test_defaults_are_a_valid_config() -> None:
    config = load_config(None)
    assert config == ServiceConfig()
    assert config.endpoint_instance_type == "ml.g6e.2xlarge"
    assert config.endpoint_min_instances == 0
    assert config.max_concurrent_jobs_per_user == 1


def test_cli_overrides_win_and_are_coerced() -> None:
    config = load_config({"stage_name": "dev"}, {"stage_name": "prod", "endpoint_max_instances": "4"})
    assert config.stage_name == "prod"
    assert config.endpoint_max_instances == 4


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"credits_per_minute": 0}, "credits_per_minute"),
        ({"music_engine": "wavenet"}, "music_engine"),
        ({"endpoint_instance_type": "g6e.2xlarge"}, "endpoint_instance_type"),
        ({"endpoint_min_instances": 3, "endpoint_max_instances": 2}, "endpoint_max_instances"),
        ({"alarm_email": "not-an-email"}, "alarm_email"),
        ({"stage_name": "Prod!"}, "stage_name"),
        ({"log_retention_days": 33}, "log_retention_days"),
        ({"unknown_setting": 1}, "unknown_setting"),
    ],
)
def test_bad_values_name_the_key(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(values)


def test_empty_cli_value_means_unset() -> None:
    assert load_config({"alarm_email": "ops@example.com"}, {"alarm_email": ""}).alarm_email is None
