"""Typed service settings read from the CDK context (cdk.json `service` block and `-c key=value`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CONTEXT_KEY = "service"


class ConfigError(ValueError):
    """A context value is missing or invalid; the message names the key and the rule."""


class ServiceConfig(BaseModel):
    """Every setting that differs between deployments. Defaults suit a small production stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage_name: str = Field("dev", pattern=r"^[a-z][a-z0-9-]{1,15}$")
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    account: str | None = Field(None, pattern=r"^\d{12}$")

    # Inference endpoint
    endpoint_instance_type: str = Field("ml.g6e.2xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    endpoint_min_instances: int = Field(0, ge=0, le=20)
    endpoint_max_instances: int = Field(2, ge=1, le=20)
    max_concurrent_invocations_per_instance: int = Field(1, ge=1, le=10)
    inference_timeout_minutes: int = Field(45, ge=5, le=240)
    # On-demand price of one endpoint instance, for the dashboard's spend estimate and the cost
    # model (docs/operations.md). Set it to your region's current SageMaker price.
    endpoint_hourly_usd: float = Field(3.0, gt=0, le=200)
    model_data_s3_uri: str | None = Field(None, pattern=r"^s3://[a-z0-9.\-]{3,63}/.+")

    # Models
    llm_model_id: str = Field("Qwen/Qwen2-7B-Instruct", min_length=1, max_length=200)
    music_engine: Literal["acestep", "musicgen"] = "acestep"
    acestep_model_id: str = Field("ACE-Step/ACE-Step-v1-3.5B", min_length=1, max_length=200)
    musicgen_model_id: str = Field("facebook/musicgen-medium", min_length=1, max_length=200)
    image_model_id: str = Field("stabilityai/sdxl-turbo", min_length=1, max_length=200)

    # Business rules
    max_concurrent_jobs_per_user: int = Field(1, ge=1, le=10)
    signup_credits: int = Field(10, ge=0, le=100_000)
    credits_per_song: int = Field(1, ge=1, le=1_000)

    # Audio uploads (audio-in modes): the largest file and the longest track accepted, and how
    # long an upload nobody used is kept.
    upload_max_mb: int = Field(50, ge=1, le=500)
    upload_max_duration_s: int = Field(600, ge=10, le=600)
    upload_expiry_days: int = Field(7, ge=1, le=365)
    # Stems need the base checkpoint beside turbo on the GPU; off where memory is short.
    stems_enabled: bool = True

    # API
    api_throttle_rate_limit: int = Field(20, ge=1, le=10_000)
    api_throttle_burst_limit: int = Field(40, ge=1, le=5_000)
    cors_allow_origins: tuple[str, ...] = ("*",)

    # Operations
    alarm_email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", max_length=254)
    log_retention_days: Literal[7, 14, 30, 90, 180, 365, 731] = 30
    powertools_layer_version: str = Field("3.37.0", pattern=r"^(latest|\d+\.\d+\.\d+)$")
    removal_policy_retain: bool = True

    @model_validator(mode="after")
    def _check_ranges(self) -> ServiceConfig:
        if self.endpoint_max_instances < self.endpoint_min_instances:
            raise ValueError("endpoint_max_instances must be >= endpoint_min_instances")
        return self

    @property
    def resource_prefix(self) -> str:
        """Prefix for names that must be known outside CloudFormation (dashboards, local stack)."""
        return f"song-service-{self.stage_name}"

    @property
    def metrics_namespace(self) -> str:
        return "SongService"


def load_config(context: dict[str, Any] | None, overrides: dict[str, Any] | None = None) -> ServiceConfig:
    """Build the config from the `service` context block plus individual `-c key=value` overrides."""
    values = dict(context or {})
    for key, value in (overrides or {}).items():
        if key in ServiceConfig.model_fields and value is not None:
            values[key] = _from_cli(value)
    try:
        return ServiceConfig.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'service'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid CDK context '{CONTEXT_KEY}': {problems}") from None


def _from_cli(value: Any) -> Any:
    """`-c key=value` always arrives as a string; turn comma lists and empty strings into values."""
    if isinstance(value, str) and value == "":
        return None
    return value


def config_from_app(node: Any) -> ServiceConfig:
    """Read the config from a CDK construct node (the App)."""
    overrides = {key: node.try_get_context(key) for key in ServiceConfig.model_fields}
    return load_config(node.try_get_context(CONTEXT_KEY), overrides)
