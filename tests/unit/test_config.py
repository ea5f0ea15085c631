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


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://models/song/model.tar.gz", "names an archive"),
        ("s3://models/song/weights.tgz", "names an archive"),
        ("s3://models", "not an S3 prefix"),
        ("s3://models/", "not an S3 prefix"),
        ("https://models.s3.amazonaws.com/song/", "not an S3 prefix"),
        ("s3://Models_Bucket/song/", "not an S3 prefix"),
    ],
)
def test_model_data_must_be_the_staged_prefix(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"model_data_s3_uri: .*{message}"):
        load_config({"model_data_s3_uri": uri})


def test_model_data_prefix_is_normalized_and_its_bucket_known() -> None:
    config = load_config({"model_data_s3_uri": "s3://my-models/song-model/v1"})
    assert config.model_data_s3_uri == "s3://my-models/song-model/v1/"
    assert config.model_data_bucket == "my-models"
    assert load_config(None).model_data_bucket is None


def test_model_runs_without_internet_unless_asked() -> None:
    assert load_config(None).model_internet_access is False
    assert load_config({}, {"model_internet_access": "true"}).model_internet_access is True


def test_endpoint_name_carries_the_instance_type() -> None:
    assert load_config(None).endpoint_name == "song-service-dev-music-g6e-2xlarge"
    other = load_config({"stage_name": "prod", "endpoint_instance_type": "ml.g6e.12xlarge"})
    assert other.endpoint_name == "song-service-prod-music-g6e-12xlarge"
    assert (
        len(load_config({"stage_name": "a" * 16, "endpoint_instance_type": "ml.p5en.48xlarge"}).endpoint_name)
        <= 63
    )


def test_a_deployable_config_has_weights_to_load() -> None:
    with pytest.raises(ConfigError, match=r"model_data_s3_uri is unset.*allow_no_model_data"):
        load_config(None).require_model_source()
    # Staged weights, hub downloads, or a template that is never deployed.
    load_config({"model_data_s3_uri": "s3://my-models/song-model/v1/"}).require_model_source()
    load_config({"model_internet_access": True}).require_model_source()
    load_config({}, {"allow_no_model_data": "true"}).require_model_source()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ses_from_email": "not-an-address"}, "ses_from_email"),
        ({"ses_from_name": "Songs"}, "need ses_from_email"),
        ({"ses_reply_to": "help@example.com"}, "need ses_from_email"),
        ({"ses_from_email": "a@example.com", "ses_verified_domain": "other.com"}, "not an address of"),
        ({"ses_from_email": "a@example.com", "ses_region": "mars"}, "ses_region"),
        ({"ses_from_email": "a@example.com", "ses_from_name": "Evil <x@y.z>"}, "ses_from_name"),
    ],
)
def test_ses_sender_settings_are_checked(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(values)


def test_ses_sender_is_optional_and_takes_its_domain() -> None:
    assert load_config(None).ses_from_email is None
    config = load_config({"ses_from_email": "no-reply@example.com", "ses_verified_domain": "example.com"})
    assert config.ses_verified_domain == "example.com"


def test_cover_model_defaults_to_the_commercially_usable_one() -> None:
    assert load_config(None).cover_model == "sdxl-lightning"
    assert load_config(None).image_model_id is None
    assert load_config({"cover_model": "sdxl-turbo"}).cover_model == "sdxl-turbo"
    with pytest.raises(ConfigError, match="cover_model"):
        load_config({"cover_model": "dall-e"})


def test_api_gateway_logging_role_is_on_unless_managed_elsewhere() -> None:
    assert load_config(None).apigateway_cloudwatch_role is True
    assert load_config({}, {"apigateway_cloudwatch_role": "false"}).apigateway_cloudwatch_role is False
