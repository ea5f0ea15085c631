"""The contract between the parts: facts the CDK app (stacks/), the functions (lambdas/), the local
stack (local/), the operator tools (ops/) and the tests share, each written here once as plain data.

No AWS SDK, CDK or Powertools import: every side imports this module. What a function reads from
its environment is in lambdas/common/settings.py; `function_environment` (below) builds each
function's environment from those settings for the stack and the local stack alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from lambdas.common.settings import FUNCTION_SETTINGS
from lambdas.webhooks.schedule import MAX_ATTEMPTS as WEBHOOK_MAX_ATTEMPTS
from lambdas.webhooks.schedule import WEBHOOK_SENDER_TIMEOUT_S

SERVICE = "song-service"  # Powertools' service name, the events' source, the stack's `service` tag
METRICS_NAMESPACE = "SongService"


def resource_prefix(stage_name: str) -> str:
    """Prefix of the names that must be known outside CloudFormation (dashboards, the local stack)."""
    return f"{SERVICE}-{stage_name}"


# --- DynamoDB ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str
    projected: tuple[str, ...] | None = None  # None: every attribute (ProjectionType ALL)


@dataclass(frozen=True)
class Table:
    """A table's keys and indexes (attributes are strings); the local stack names it `<prefix>-<name>`."""

    name: str
    partition_key: str
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None


# A user's songs, newest first (GET /songs) and the user's queue in submission order (slots).
JOBS_BY_USER = Index("by_user", "user_id", "created_at")
# Jobs by status, oldest first: the queue position and recent render times (GET /songs/{id}). The
# few status values make few partitions; the write rate is bounded by the GPUs.
JOBS_BY_STATUS = Index("by_status", "status", "created_at", ("started_at", "finished_at"))
# A user's uploads: the per-user quota counts them on these small items.
UPLOADS_BY_USER = Index("by_user", "user_id", "created_at", ("status", "expires_at_epoch"))
# A user's personas, newest first (GET /personas); the per-user cap counts them (keys only).
PERSONAS_BY_USER = Index("by_user", "user_id", "created_at")

# The song's id in rows is `job_id`: the row is the job that makes the song (docs/architecture.md).
JOBS = Table("jobs", "job_id", (JOBS_BY_USER, JOBS_BY_STATUS))
USERS = Table("users", "user_id")
# Powertools idempotency records (POST /songs with an Idempotency-Key); short-lived by design.
IDEMPOTENCY = Table("idempotency", "id", ttl_attribute="expiration")
# Rows of unused uploads go when their objects do; a kept upload's row has no expiry.
UPLOADS = Table("uploads", "upload_id", (UPLOADS_BY_USER,), ttl_attribute="expires_at_epoch")
# Personas: a reference clip (stored under PERSONAS_PREFIX) and style text, reused across songs.
PERSONAS = Table("personas", "persona_id", (PERSONAS_BY_USER,))
# Personal API keys: one row per key, found by its id (the secret's public part); only the secret's
# hash is stored (lambdas/common/store/api_keys.py). A user's keys, oldest first: GET /me/api-keys;
# the index leaves the hash out (only the authorizer reads it, from the table).
API_KEYS_BY_USER = Index("by_user", "user_id", "created_at", ("name", "prefix", "expires_at", "last_used_at"))
API_KEYS = Table("api_keys", "key_id", (API_KEYS_BY_USER,))
# Per-user rate limits (lambdas/common/store/rate_limits.py): one small row per user and limit,
# gone (TTL) once its bucket is full again.
RATE_LIMITS = Table("rate_limits", "bucket_id", ttl_attribute="expires_at_epoch")
TABLES = (JOBS, USERS, IDEMPOTENCY, UPLOADS, PERSONAS, API_KEYS, RATE_LIMITS)

# --- S3: the key prefixes of each bucket ----------------------------------------------------------

# Media bucket: songs/{user_id}/{job_id}/audio.{fmt}, cover.png (lambdas/common/media_keys.py).
SONGS_PREFIX = "songs/"
# Media bucket: personas/{user_id}/{persona_id}/reference.wav, the clip cut when the persona is made
# (lambdas/common/personas.py); the model container reads it for every song made with the persona.
PERSONAS_PREFIX = "personas/"
# Inference (scratch) bucket: what the workflow writes, the container writes and SageMaker writes.
REQUESTS_PREFIX = "requests/"  # requests/{job_id}.json: the container's request
SCRATCH_MEDIA_PREFIX = "media/"  # media/{job_id}/...: the container's media before publishing
ASYNC_OUTPUT_PREFIX = "async-output/"  # SageMaker's S3OutputPath: the manifest
ASYNC_FAILURE_PREFIX = "async-failures/"  # SageMaker's S3FailurePath
# Uploads bucket: uploads/{user_id}/{upload_id}, written by the browser with a presigned POST form.
UPLOADS_PREFIX = "uploads/"
# Objects tagged `retention=unused` expire after `upload_expiry_days` (the bucket's lifecycle
# rule); a processed song made from an upload re-tags it `used`, which no rule matches.
RETENTION_TAG_KEY = "retention"
UNUSED_TAG = "unused"
USED_TAG = "used"

# --- the workflow ----------------------------------------------------------------------------------


def state_machine_name(prefix: str) -> str:
    return f"{prefix}-song-generation"


def event_bus_name(prefix: str) -> str:
    """The bus of the songs' lifecycle events (lambdas/common/lifecycle.py)."""
    return f"{prefix}-song-events"


def endpoint_name(prefix: str, instance_type: str) -> str:
    """The async endpoint's name carries its instance type: a new type is a new endpoint, created
    before the old one (and its autoscaling target) is removed (docs/operations.md)."""
    return f"{prefix}-music-{instance_type.removeprefix('ml.').replace('.', '-')}"


# Longest a song can take end to end, queue wait included (the state machine's timeout); also the
# horizon after which a queued job no longer holds its place in the user's queue.
WORKFLOW_TIMEOUT_S = 24 * 3600
# Safety net for a lost slot hand-over: a waiting job re-checks its turn this often.
SLOT_POLL_S = 5 * 60
# Execution statuses the reaper cleans up after (the EventBridge rule's pattern).
REAPED_STATUSES = ("ABORTED", "TIMED_OUT", "FAILED")
# The reaper rule target's retry policy; an event still failing after it goes to the rule's DLQ.
REAPER_RETRY_ATTEMPTS = 8
REAPER_MAX_EVENT_AGE_S = 6 * 3600
# The async endpoint's variant; the container renders one request at a time (song_model/server.py).
VARIANT_NAME = "AllTraffic"

# --- the REST API ----------------------------------------------------------------------------------

API_STAGE = "v1"  # the API Gateway stage: every route is under /v1
DOCS_PATH = "/docs"  # the public API reference (GET, no token)
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
CORS_MAX_AGE_S = 3600
API_TIMEOUT_S = 28  # API Gateway gives up after 29 s
PRESIGNED_URL_TTL_S = 3600  # download URLs of a processed song
UPLOAD_FORM_TTL_S = 900  # how long a presigned POST form for an upload is valid
DEFAULT_UPLOAD_MAX_MB = 50  # the largest upload, unless a deployment sets `upload_max_mb`

# --- the authorizer (lambdas/authorizer): what it hands the API function ------------------------

# API Gateway passes a Lambda authorizer's `context` on as requestContext.authorizer.<key> (string
# values). `sub` is the user id, under the name the Cognito authorizer used for it.
AUTH_USER_KEY = "sub"
AUTH_METHOD_KEY = "auth_method"
AUTH_BY_ID_TOKEN = "id_token"  # noqa: S105 - a Cognito id token: a signed-in session
AUTH_BY_API_KEY = "api_key"
API_KEY_ID_KEY = "api_key_id"
# How long API Gateway caches an authorizer's answer for one Authorization header, unless a
# deployment sets `authorizer_cache_ttl_s`: a revoked key may work this long (docs/api.md).
DEFAULT_AUTHORIZER_CACHE_TTL_S = 300

# --- SQS consumers (Lambda event source mappings) ------------------------------------------------


@dataclass(frozen=True)
class QueueConsumer:
    """A queue and the function that consumes it: the CDK app builds the queue and the event source
    mapping from this, the local stack its queue and poller."""

    function: str  # the package under lambdas/ (see FUNCTIONS)
    function_timeout_s: int
    batch_size: int
    max_receives: int  # after this many receives a message goes to the queue's DLQ

    @property
    def visibility_timeout_s(self) -> int:
        """AWS's guidance for Lambda event sources: at least six times the function's timeout."""
        return 6 * self.function_timeout_s


# SageMaker's success and error topics -> one queue (raw message delivery) -> the callback.
INFERENCE_CALLBACK = QueueConsumer("inference_callback", function_timeout_s=30, batch_size=10, max_receives=5)
# Uploads bucket ObjectCreated -> queue -> the check; one file per invocation, so a slow decode
# never holds other uploads back (decoding a 10-minute MP3 and downloading 50 MB take seconds). It
# waits for the upload analyzer (at most UPLOAD_ANALYZER_TIMEOUT_S, defined below) before it marks the
# upload ready: its timeout leaves room for both.
UPLOAD_CHECK = QueueConsumer("upload_check", function_timeout_s=300, batch_size=1, max_receives=3)
# Lifecycle events of songs with a webhook -> queue -> the sender; one receive per delivery attempt.
WEBHOOK_SENDER = QueueConsumer(
    "webhook_sender",
    function_timeout_s=WEBHOOK_SENDER_TIMEOUT_S,
    batch_size=10,
    max_receives=WEBHOOK_MAX_ATTEMPTS,
)
QUEUE_CONSUMERS = (INFERENCE_CALLBACK, UPLOAD_CHECK, WEBHOOK_SENDER)

# --- each function's environment ---------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """The names a deployment gives its resources: CDK tokens in the stack, literal names in the
    local stack. The functions find them through their environment."""

    jobs_table: str
    users_table: str
    idempotency_table: str
    uploads_table: str
    personas_table: str
    media_bucket: str
    inference_bucket: str
    uploads_bucket: str
    state_machine_arn: str
    endpoint_name: str
    event_bus: str
    api_origins: str  # the browser origins the API allows, comma-separated
    api_keys_table: str
    rate_limits_table: str
    user_pool_issuer: str  # https://cognito-idp.<region>.amazonaws.com/<pool id>
    user_pool_client_id: str  # the app client: an id token's audience
    upload_analyzer_function: str  # the upload analyzer's function name (the upload check invokes it)


class DeploymentConfig(Protocol):
    """The deployment settings the functions' environments are made of (stacks.config.ServiceConfig)."""

    stage_name: str
    signup_credits: int
    credits_per_minute: int
    transcribe_credits: int
    max_concurrent_jobs_per_user: int
    inference_timeout_minutes: int
    endpoint_max_instances: int
    upload_max_mb: int
    upload_max_duration_s: int
    upload_expiry_days: int
    upload_max_pending: int
    upload_max_stored: int
    stems_enabled: bool
    persona_max_per_user: int
    api_key_max_per_user: int
    user_requests_per_minute: int
    user_request_burst: int
    user_submissions_per_hour: int
    user_submission_burst: int


def deployment_values(config: DeploymentConfig, resources: Resources) -> dict[str, object]:
    """Every value a function's settings may ask for, by settings field (lambdas/common/settings.py)."""
    return {
        "stage_name": config.stage_name,
        "jobs_table_name": resources.jobs_table,
        "users_table_name": resources.users_table,
        "idempotency_table_name": resources.idempotency_table,
        "uploads_table_name": resources.uploads_table,
        "personas_table_name": resources.personas_table,
        "media_bucket_name": resources.media_bucket,
        "inference_bucket_name": resources.inference_bucket,
        "uploads_bucket_name": resources.uploads_bucket,
        "state_machine_arn": resources.state_machine_arn,
        "endpoint_name": resources.endpoint_name,
        "event_bus_name": resources.event_bus,
        "cors_allow_origins": resources.api_origins,
        "signup_credits": config.signup_credits,
        "credits_per_minute": config.credits_per_minute,
        "transcribe_credits": config.transcribe_credits,
        "max_concurrent_jobs_per_user": config.max_concurrent_jobs_per_user,
        "workflow_timeout_seconds": WORKFLOW_TIMEOUT_S,
        "inference_timeout_seconds": config.inference_timeout_minutes * 60,
        "endpoint_max_instances": config.endpoint_max_instances,
        "upload_max_mb": config.upload_max_mb,
        "upload_max_duration_seconds": config.upload_max_duration_s,
        "upload_expiry_days": config.upload_expiry_days,
        "upload_max_pending": config.upload_max_pending,
        "upload_max_stored": config.upload_max_stored,
        "stems_enabled": config.stems_enabled,
        "persona_max_per_user": config.persona_max_per_user,
        "api_keys_table_name": resources.api_keys_table,
        "rate_limits_table_name": resources.rate_limits_table,
        "user_pool_issuer": resources.user_pool_issuer,
        "user_pool_client_id": resources.user_pool_client_id,
        "api_key_max_per_user": config.api_key_max_per_user,
        "user_requests_per_minute": config.user_requests_per_minute,
        "user_request_burst": config.user_request_burst,
        "user_submissions_per_hour": config.user_submissions_per_hour,
        "user_submission_burst": config.user_submission_burst,
        "upload_analyzer_function_name": resources.upload_analyzer_function,
    }


def runtime_environment(log_level: str = "INFO") -> dict[str, str]:
    """Powertools' variables, the same for every function (read when the handler module loads)."""
    return {
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": log_level,
    }


def function_environment(function: str, values: Mapping[str, object]) -> dict[str, str]:
    """The environment of `function` (a package under lambdas/): exactly the variables its settings
    read, with `values` (`deployment_values`, plus any optional setting a deployment gives), and
    the runtime's. A value a function needs and `values` lacks is a KeyError naming it."""
    model = FUNCTION_SETTINGS[function]
    environment = runtime_environment()
    for field, variable in model.variables().items():
        if field in values:
            environment[variable] = _text(values[field])
        elif model.model_fields[field].is_required():
            raise KeyError(f"no value for {variable}, which {function} needs")
    return environment


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# --- the transcriber (audio to MIDI: lambda_images/transcribe, a container image function) --------

TRANSCRIBER = "transcriber"
TRANSCRIBER_HANDLER = "transcriber.handler.lambda_handler"  # the image's CMD, also set by the CDK app
# basic-pitch on ONNX Runtime: a 10-minute song takes a few minutes on 1-2 vCPUs (bench/transcribe_bench.py);
# 2048 MB gives Lambda's share of about 1.2 vCPUs and room for the decoded audio and the model's frames.
TRANSCRIBER_MEMORY_MB = 2048
TRANSCRIBER_TIMEOUT_S = 900
# /tmp holds one source at a time (up to its MAX_INPUT_BYTES, 256 MB) and the decoded copy.
TRANSCRIBER_EPHEMERAL_MB = 1024
TRANSCRIBER_MAX_DURATION_S = 600  # the longest song or upload (models.MAX_RENDER_S)


def transcriber_environment(values: Mapping[str, object]) -> dict[str, str]:
    """The transcriber's environment (its transcriber/settings.py): the buckets it may read sources
    from and write MIDI to, and the longest audio. `values`: `deployment_values`."""
    return {
        "MEDIA_BUCKET_NAME": _text(values["media_bucket_name"]),
        "UPLOADS_BUCKET_NAME": _text(values["uploads_bucket_name"]),
        "INFERENCE_BUCKET_NAME": _text(values["inference_bucket_name"]),
        "MAX_DURATION_S": str(TRANSCRIBER_MAX_DURATION_S),
    }


# --- the upload analyzer (loudness, tempo, key of an upload: the transcriber's image, another CMD) ---

UPLOAD_ANALYZER = "upload_analyzer"
UPLOAD_ANALYZER_HANDLER = "transcriber.analyzer.lambda_handler"  # its CMD in the transcriber's image
# A 10-minute stereo upload: decoding, BS.1770 loudness, 4x true-peak oversampling, onset
# autocorrelation and constant-Q chroma took 15 s of CPU and peaked at 1.3 GB here (docs/benchmarks.md,
# "Upload analysis"); 2048 MB holds that and gives Lambda's share of about 1.2 vCPUs.
UPLOAD_ANALYZER_MEMORY_MB = 2048
UPLOAD_ANALYZER_TIMEOUT_S = 120
# /tmp holds the upload (at most upload_max_mb, 50 MB by default) while it is decoded.
UPLOAD_ANALYZER_EPHEMERAL_MB = 512
# The transcriber image's functions by name, each with the CMD it runs (the stack's IMAGE_FUNCTIONS,
# the local stack and the local IAM check all read it).
IMAGE_HANDLERS = {TRANSCRIBER: TRANSCRIBER_HANDLER, UPLOAD_ANALYZER: UPLOAD_ANALYZER_HANDLER}


def upload_analyzer_environment(values: Mapping[str, object]) -> dict[str, str]:
    """The upload analyzer's environment (the transcriber package's settings.AnalyzerSettings): the
    only bucket it reads, and the longest audio. `values`: `deployment_values`."""
    return {
        "UPLOADS_BUCKET_NAME": _text(values["uploads_bucket_name"]),
        "MAX_DURATION_S": _text(values["upload_max_duration_seconds"]),
    }
