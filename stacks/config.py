"""Typed service settings read from the CDK context (cdk.json `service` block and `-c key=value`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lambdas.common import contract

CONTEXT_KEY = "service"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What the CDK CLI adds to the context of every `cdk synth`/`cdk deploy` (besides cdk.json and
# cdk.context.json): path and asset metadata on each resource and version reporting.
CLI_DEFAULT_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
}
# An S3 bucket name (3-63 characters) and a key prefix: the staged, uncompressed model data.
MODEL_DATA_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(?P<prefix>\S+)$")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip", ".gz")
REGION = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
DOMAIN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"


class ConfigError(ValueError):
    """A context value is missing or invalid; the message names the key and the rule."""


class ServiceConfig(BaseModel):
    """Every setting that differs between deployments. Defaults suit a small production stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage_name: str = Field("dev", pattern=r"^[a-z][a-z0-9-]{1,15}$")
    region: str = Field("us-east-1", pattern=REGION)
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
    # The S3 prefix `song_model.stage_weights` wrote (s3://bucket/prefix/): SageMaker copies it
    # uncompressed to /opt/ml/model (S3DataType=S3Prefix, CompressionType=None). Not a tarball.
    model_data_s3_uri: str | None = None
    # The model container runs in isolated subnets whose only route out is an S3 gateway endpoint
    # for the stack's buckets. True runs it outside the VPC with internet access, for loading the
    # model ids from the Hugging Face hub when no model data is staged (docs/operations.md).
    model_internet_access: bool = False
    # Synthesizing without weights is for templates that are never deployed (CI's `make synth`, the
    # tests): an endpoint without weights and without internet never becomes healthy, so synthesis
    # fails unless this is set (ServiceConfig.require_model_source).
    allow_no_model_data: bool = False

    # Models
    llm_model_id: str = Field("Qwen/Qwen2-7B-Instruct", min_length=1, max_length=200)
    music_engine: Literal["acestep", "musicgen"] = "acestep"
    acestep_model_id: str = Field("ACE-Step/acestep-v15-xl-turbo-diffusers", min_length=1, max_length=200)
    musicgen_model_id: str = Field("facebook/musicgen-medium", min_length=1, max_length=200)
    # The cover model (docs/container.md, "Model licences"): SDXL-Lightning's 4-step UNet on SDXL
    # base 1.0 (CreativeML Open RAIL++-M: commercial use allowed) or SDXL-Turbo (Stability AI's
    # non-commercial community licence: research and evaluation stages only).
    cover_model: Literal["sdxl-lightning", "sdxl-turbo"] = "sdxl-lightning"
    # The cover pipeline's hub id or folder; None = the cover model's own (SDXL base 1.0 for
    # Lightning, stabilityai/sdxl-turbo for Turbo).
    image_model_id: str | None = Field(None, min_length=1, max_length=200)

    # Business rules
    max_concurrent_jobs_per_user: int = Field(1, ge=1, le=10)
    signup_credits: int = Field(10, ge=0, le=100_000)
    # The price: credits per started minute of rendered audio, per take (lambdas/common/pricing.py).
    credits_per_minute: int = Field(1, ge=1, le=1_000)
    # Audio to MIDI (mode transcribe, or stems with formats "mid"): a flat price per request; it
    # runs on a CPU function for about a cent a song (docs/operations.md).
    transcribe_credits: int = Field(1, ge=1, le=1_000)

    # Audio uploads (audio-in modes): the largest file and the longest track accepted, and how
    # long an upload nobody used is kept.
    upload_max_mb: int = Field(contract.DEFAULT_UPLOAD_MAX_MB, ge=1, le=500)
    upload_max_duration_s: int = Field(600, ge=10, le=600)
    upload_expiry_days: int = Field(7, ge=1, le=365)
    # Per-user quota: upload forms not checked yet (429 beyond), and checked uploads not expired
    # or kept by a song (409 beyond: delete some with DELETE /uploads/{id}).
    upload_max_pending: int = Field(5, ge=1, le=100)
    upload_max_stored: int = Field(50, ge=1, le=10_000)
    # Stems need the base checkpoint beside turbo on the GPU; off where memory is short.
    stems_enabled: bool = True
    # Personas one user may keep (POST /personas answers 409 PersonaQuotaExceeded beyond).
    persona_max_per_user: int = Field(20, ge=1, le=1_000)

    # Sign-up and password mails: None = Cognito's built-in sender (a small daily quota, fine for
    # trying a stage); an address of a verified Amazon SES identity = Cognito sends through SES
    # with your account's SES limits (docs/operations.md, "E-mail from Cognito").
    ses_from_email: str | None = Field(None, pattern=EMAIL, max_length=254)
    ses_from_name: str | None = Field(None, pattern=r"^[^<>\"\r\n]{1,64}$")
    ses_reply_to: str | None = Field(None, pattern=EMAIL, max_length=254)
    # Set when the verified SES identity is the sender's domain rather than the address itself.
    ses_verified_domain: str | None = Field(None, pattern=DOMAIN, max_length=253)
    # The SES region, when it differs from the stack's (Cognito supports only some pairs).
    ses_region: str | None = Field(None, pattern=REGION)

    # API
    # The account-wide API Gateway CloudWatch Logs role (stage logging needs it): true = this stack
    # sets it (kept when the stack is deleted); false = the account already has one managed
    # elsewhere (docs/operations.md, "API Gateway logging role").
    apigateway_cloudwatch_role: bool = True
    api_throttle_rate_limit: int = Field(20, ge=1, le=10_000)
    api_throttle_burst_limit: int = Field(40, ge=1, le=5_000)
    # How long API Gateway caches the authorizer's answer per Authorization header (0: no cache,
    # every request invokes it). A revoked API key may keep working this long (docs/api.md).
    authorizer_cache_ttl_s: int = Field(contract.DEFAULT_AUTHORIZER_CACHE_TTL_S, ge=0, le=3600)
    # Personal API keys per user (POST /me/api-keys beyond it: 409).
    api_key_max_per_user: int = Field(10, ge=1, le=100)
    # Per-user rate limits, the same for id tokens and API keys (429 RateLimited with Retry-After):
    # every request, and song submissions (POST /songs) on top; each a token bucket of `burst`.
    user_requests_per_minute: int = Field(120, ge=1, le=10_000)
    user_request_burst: int = Field(60, ge=1, le=10_000)
    user_submissions_per_hour: int = Field(60, ge=1, le=10_000)
    user_submission_burst: int = Field(10, ge=1, le=1_000)
    # Browser origins the API allows besides the web app's own CloudFront origin (always allowed),
    # e.g. a developer's `http://localhost:5173`; full origins only, no wildcard.
    cors_allow_origins: tuple[Annotated[str, Field(pattern=r"^https?://[^/*\s]+$")], ...] = ()

    # Operations
    alarm_email: str | None = Field(None, pattern=EMAIL, max_length=254)
    log_retention_days: Literal[7, 14, 30, 90, 180, 365, 731] = 30
    powertools_layer_version: str = Field("3.37.0", pattern=r"^(latest|\d+\.\d+\.\d+)$")
    removal_policy_retain: bool = True

    @field_validator("model_data_s3_uri")
    @classmethod
    def _check_model_data(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.lower().endswith(ARCHIVE_SUFFIXES):
            raise ValueError(
                f"{value!r} names an archive; the model reads uncompressed weights from an S3 prefix. "
                "Stage them with `python -m song_model.stage_weights --bucket B --prefix P/` and "
                "set the s3://B/P/ it prints"
            )
        if not MODEL_DATA_URI.match(value):
            raise ValueError(f"{value!r} is not an S3 prefix of the form s3://bucket/prefix/")
        return value if value.endswith("/") else f"{value}/"

    @model_validator(mode="after")
    def _check_ranges(self) -> ServiceConfig:
        if self.endpoint_max_instances < self.endpoint_min_instances:
            raise ValueError("endpoint_max_instances must be >= endpoint_min_instances")
        self._check_ses()
        return self

    def _check_ses(self) -> None:
        others = {"ses_from_name", "ses_reply_to", "ses_verified_domain", "ses_region"}
        given = sorted(name for name in others if getattr(self, name) is not None)
        if given and self.ses_from_email is None:
            raise ValueError(f"{', '.join(given)} need ses_from_email (the SES sender Cognito mails from)")
        # The sender must be an address of the verified domain itself (SES authorizes the domain
        # identity; CDK refuses any other domain).
        domain, sender = self.ses_verified_domain, self.ses_from_email
        if domain and sender and sender.rsplit("@", 1)[1].lower() != domain:
            raise ValueError(f"ses_from_email {sender!r} is not an address of ses_verified_domain {domain!r}")

    def require_model_source(self) -> None:
        """A deployable endpoint has weights to load: staged model data, or hub downloads over the
        internet. Raises ConfigError naming the keys unless `allow_no_model_data` says this
        template is never deployed."""
        if self.model_data_s3_uri or self.model_internet_access or self.allow_no_model_data:
            return
        raise ConfigError(
            "model_data_s3_uri is unset and model_internet_access is false: the endpoint would have no "
            "weights to load and never become healthy. Stage them (`python -m song_model.stage_weights "
            '--bucket B --prefix P/`, README "Deploying") and deploy with -c model_data_s3_uri=s3://B/P/, '
            "or allow hub downloads with -c model_internet_access=true. Only a template that is never "
            "deployed (CI, tests) may set -c allow_no_model_data=true."
        )

    @property
    def resource_prefix(self) -> str:
        """Prefix for names that must be known outside CloudFormation (dashboards, local stack)."""
        return contract.resource_prefix(self.stage_name)

    @property
    def metrics_namespace(self) -> str:
        return contract.METRICS_NAMESPACE

    @property
    def endpoint_name(self) -> str:
        return contract.endpoint_name(self.resource_prefix, self.endpoint_instance_type)

    @property
    def model_data_bucket(self) -> str | None:
        match = MODEL_DATA_URI.match(self.model_data_s3_uri or "")
        return match["bucket"] if match else None


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


def cli_context(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The context `cdk synth`/`cdk deploy` hand the app: the CLI's defaults, cdk.json's `context`
    (feature flags and the `service` block), then cdk.context.json (cached lookups), as the CLI
    merges them. Tests and `python app.py` use it so they build what `cdk deploy` deploys."""
    context: dict[str, Any] = dict(CLI_DEFAULT_CONTEXT)
    context.update(json.loads((root / "cdk.json").read_text()).get("context", {}))
    cached = root / "cdk.context.json"
    if cached.exists():
        context.update(json.loads(cached.read_text()))
    return context


def config_from_app(node: Any) -> ServiceConfig:
    """Read the config from a CDK construct node (the App)."""
    overrides = {key: node.try_get_context(key) for key in ServiceConfig.model_fields}
    return load_config(node.try_get_context(CONTEXT_KEY), overrides)
