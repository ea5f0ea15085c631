"""`python -m ops smoke`: one short song through a deployed (or the local) stack, stage by stage.

Signs a test user in with the stack's Cognito pool, checks its credits, submits one 10-second song,
follows it through the real endpoint (a scale-out from zero takes minutes: progress is printed
while it waits), downloads what was made and checks the song was charged exactly its price. Each
stage's time is printed; the first stage that fails ends the run with what the service said and
where to look. The exit status is 0 only when every stage passed.
"""

from __future__ import annotations

import secrets
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from local.client import ApiError, SongClient, download, media_urls

DESCRIPTION = "a short calm piano melody, smoke test"
# What the files must start with (audio by format; the container writes the cover as PNG).
SIGNATURES = {
    "wav": (b"RIFF",),
    "flac": (b"fLaC",),
    "mp3": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
    "png": (b"\x89PNG",),
}


class StageFailed(Exception):
    """`stage`: the stage that failed when it is a later one than the stage that noticed (a song
    that failed between two polls)."""

    def __init__(self, detail: str, hint: str = "", stage: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint
        self.stage = stage


@dataclass
class Target:
    """What the smoke test talks to: the API, how the test user signs in, and (on AWS) the endpoint."""

    name: str
    api_url: str
    user: str
    sign_in: Callable[[], str]  # the test user's id token
    endpoint_state: Callable[[], str] | None = None  # e.g. "InService, 0 instances"
    grant_command: str = "python -m ops grant"  # how an operator adds credits (with the user id)
    where_to_look: str = ""  # the dashboard, logs


@dataclass(frozen=True)
class Phase:
    """A stretch of the song's life the smoke test times: while `holds(song)`, it is in it."""

    name: str
    holds: Callable[[dict[str, Any]], bool]
    what: str


PHASES = (
    Phase("queue", lambda s: s["status"] == "queued", "waiting for the user's slot and the credit check"),
    Phase(
        "generate", lambda s: s["stage"] == "generating", "the GPU endpoint (a scale-out from zero included)"
    ),
    Phase("publish", lambda s: s["status"] != "processed", "copying the media and charging"),
)
TERMINAL = ("processed", "failed", "canceled")
# Where a song that ended failed went wrong, by its error code (lambdas/workflow/outcome.py).
FAILED_IN = {"InsufficientCredits": "queue", "GenerationFailed": "generate", "GenerationTimeout": "generate"}


@dataclass
class Stage:
    name: str
    seconds: float
    ok: bool
    detail: str = ""


@dataclass
class SmokeTest:
    target: Target
    out: TextIO | None = None  # default: sys.stdout at the time of printing
    description: str = DESCRIPTION
    duration_s: int = 10
    inference_steps: int | None = None  # None: the checkpoint's recommended steps
    timeout_s: float = 3000.0  # longer than the workflow's inference timeout (45 min by default)
    poll_s: float = 5.0
    progress_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    stages: list[Stage] = field(default_factory=list)

    def run(self) -> bool:
        started = self.clock()
        self._say(f"smoke test of {self.target.name} ({self.target.api_url}) as {self.target.user}")
        try:
            client = SongClient(self.target.api_url, self._stage("sign in", self._sign_in), bearer=False)
            before = self._stage("credits", lambda: self._credits(client))
            song = self._stage("submit", lambda: self._submit(client))
            deadline = self.clock() + self.timeout_s
            for phase in PHASES:
                song = self._stage(
                    phase.name, lambda phase=phase, song=song: self._follow(client, song, phase, deadline)
                )
            self._stage("download", lambda: self._download(song))
            self._stage("charge", lambda: self._charged(client, before, song))
        except StageFailed as failure:
            self._fail(failure)
            return False
        self._say(f"smoke test passed in {_clock(self.clock() - started)}")
        return True

    # --- the stages ---------------------------------------------------------------------------

    def _sign_in(self) -> tuple[str, str]:
        try:
            token = self.target.sign_in()
        except StageFailed:
            raise
        except Exception as exc:  # Cognito's refusal, a wrong pool, no network: all this stage's
            raise StageFailed(f"could not sign in: {exc}") from exc
        return token, self.target.user

    def _credits(self, client: SongClient) -> tuple[dict[str, Any], str]:
        me = client.me()
        return me, f"{me['available_credits']} available (user {me['user_id']})"

    def _submit(self, client: SongClient) -> tuple[dict[str, Any], str]:
        body: dict[str, Any] = {
            "mode": "description",
            "description": self.description,
            "duration_s": self.duration_s,
            "formats": ["wav"],
        }
        if self.inference_steps is not None:
            body["inference_steps"] = self.inference_steps
        try:
            song = client.create_song(body, idempotency_key=str(uuid.uuid4()))
        except ApiError as exc:
            if exc.status == 402:
                raise StageFailed(
                    f"not enough credits: {exc}",
                    f'{self.target.grant_command} <user id> 10 --reason "smoke test"',
                ) from exc
            raise StageFailed(f"POST /songs was refused: {exc}") from exc
        return song, f"song {song['job_id']}, price {song['price_credits']} credit(s)"

    def _follow(
        self, client: SongClient, song: dict[str, Any], phase: Phase, deadline: float
    ) -> tuple[dict[str, Any], str]:
        """Poll the song until it leaves `phase`; progress lines while it waits."""
        started = last_progress = self.clock()
        while phase.holds(song) and song["status"] not in TERMINAL:
            now = self.clock()
            if now > deadline:
                raise StageFailed(f"still {song['status']} ({song['stage']}) after {_clock(self.timeout_s)}")
            if now - last_progress >= self.progress_s:
                last_progress = now
                endpoint = f"; endpoint {self.target.endpoint_state()}" if self.target.endpoint_state else ""
                self._say(f"  ...   {phase.name}: {_clock(now - started)} so far{endpoint}")
            self.sleep(self.poll_s)
            song = client.song(song["job_id"])
        if song["status"] in ("failed", "canceled"):
            error = song.get("error") or {}
            code = error.get("code")
            detail = f"the song ended {song['status']}: {code}: {error.get('message')}"
            raise StageFailed(detail, stage=FAILED_IN.get(str(code)))
        return song, phase.what

    def _download(self, song: dict[str, Any]) -> tuple[None, str]:
        files = media_urls(song)
        if not any(name.startswith("song.") for name in files) or "cover.png" not in files:
            raise StageFailed(f"the processed song lacks its audio or cover URLs: {sorted(files)}")
        found = []
        for name, url in files.items():
            data = download(url)
            kind = name.rsplit(".", 1)[-1]
            if not data.startswith(SIGNATURES.get(kind, (b"",))):
                raise StageFailed(f"{name} ({len(data)} bytes) is not a {kind} file")
            found.append(f"{name} {len(data) / 1e6:.2f} MB")
        return None, ", ".join(found)

    def _charged(self, client: SongClient, before: dict[str, Any], song: dict[str, Any]) -> tuple[None, str]:
        after = client.me()
        charged = before["credits"] - after["credits"]
        if charged != song["price_credits"] or after["reserved_credits"] != before["reserved_credits"]:
            raise StageFailed(
                f"credits went {before['credits']} -> {after['credits']} (price {song['price_credits']}), "
                f"reserved {before['reserved_credits']} -> {after['reserved_credits']}"
            )
        return None, f"charged {charged} credit(s), once"

    # --- reporting ----------------------------------------------------------------------------

    def _stage(self, name: str, work: Callable[[], tuple[Any, str]]) -> Any:
        """Run one stage, print its time; any failure becomes the stage's StageFailed."""
        started = self.clock()
        try:
            value, detail = work()
        except StageFailed as failure:
            self._record_failure(name, self.clock() - started, failure)
            raise
        except (ApiError, OSError) as exc:  # HTTP errors, connection failures
            self._record(name, self.clock() - started, False)
            raise StageFailed(str(exc), _HINTS.get(name, "")) from exc
        self._record(name, self.clock() - started, True, detail)
        return value

    def _record_failure(self, name: str, seconds: float, failure: StageFailed) -> None:
        """The failed stage; a song that failed in a later phase between two polls passed the
        phases up to that one."""
        phases = [phase.name for phase in PHASES]
        later = (
            failure.stage in phases and name in phases and phases.index(failure.stage) > phases.index(name)
        )
        if later:
            self._record(name, seconds, True, "left between two polls")
            for skipped in phases[phases.index(name) + 1 : phases.index(failure.stage)]:
                self._record(skipped, 0.0, True, "passed between two polls")
            name, seconds = str(failure.stage), 0.0
        self._record(name, seconds, False)
        failure.hint = failure.hint or _HINTS.get(name, "")

    def _record(self, name: str, seconds: float, ok: bool, detail: str = "") -> None:
        self.stages.append(Stage(name, seconds, ok, detail))
        if ok:
            self._say(f"  ok    {name:<9} {seconds:8.1f} s  {detail}")

    def _fail(self, failure: StageFailed) -> None:
        failed = next((s for s in self.stages if not s.ok), None)
        name = failed.name if failed else "?"
        seconds = f"{failed.seconds:8.1f} s" if failed else ""
        self._say(f"  FAIL  {name:<9} {seconds}  {failure.detail}")
        self._say(f'smoke test FAILED at "{name}": {failure.detail}')
        hints = [h for h in (failure.hint, self.target.where_to_look) if h]
        for hint in hints:
            self._say(f"  look at: {hint}")
        timings = ", ".join(f"{s.name} {s.seconds:.1f} s" for s in self.stages)
        self._say(f"  stage times: {timings}")

    def _say(self, line: str) -> None:
        print(line, file=self.out or sys.stdout, flush=True)


_HINTS = {
    "sign in": "the test user and its password (SMOKE_PASSWORD), or --create-user",
    "credits": "the API function's logs",
    "submit": "the API function's logs",
    "queue": "the user's other songs hold its slot (max_concurrent_jobs_per_user); the workflow's executions",
    "generate": (
        "the endpoint's events and logs (/aws/sagemaker/Endpoints/<EndpointName>); docs/operations.md "
        '"backlogwithoutcapacity" and "workflowfailures"; `python -m ops preflight` (GPU quota)'
    ),
    "publish": "the Publish function's logs; the Failed songs by error code widget",
    "download": "the API role's presigned URLs and the media bucket",
    "charge": "the Finalize function's logs; `python -m ops show <user id>`",
}


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


# --- targets -------------------------------------------------------------------------------------


def local_target(stack: dict[str, Any], user: str = "smoke-test") -> Target:
    """The local stack (`make local`; its stack.json): moto's Cognito, the same password scheme as
    `python -m local token`."""
    from local.cognito import CognitoSettings, sign_in

    return Target(
        name="the local stack",
        api_url=stack["api_url"],
        user=user,
        sign_in=lambda: sign_in(CognitoSettings(**stack["cognito"]), user),
        grant_command="python -m ops --local grant",
        where_to_look=".local/logs/container.log and the stack's terminal",
    )


def aws_target(
    session: Any, stage: str, outputs: dict[str, str], user: str, password: str | None, create_user: bool
) -> Target:
    """A deployed stage: its outputs name the API, the pool, its client and the endpoint."""
    cognito = session.client("cognito-idp")
    pool, client_id = outputs["UserPoolId"], outputs["UserPoolClientId"]

    def sign_in() -> str:
        secret = password
        if create_user:
            secret = _new_password()
            _ensure_user(cognito, pool, user, secret)
        if not secret:
            raise StageFailed("no password: set SMOKE_PASSWORD, or pass --create-user")
        result = cognito.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=client_id,
            AuthParameters={"USERNAME": user, "PASSWORD": secret},
        )
        if "AuthenticationResult" not in result:
            raise StageFailed(
                f"Cognito asks for {result.get('ChallengeName')}",
                "a smoke user without MFA and with a permanent password (--create-user makes one)",
            )
        return str(result["AuthenticationResult"]["IdToken"])

    sagemaker = session.client("sagemaker")

    def endpoint_state() -> str:
        try:
            described = sagemaker.describe_endpoint(EndpointName=outputs["EndpointName"])
        except Exception as exc:  # progress only: never fail the run over it
            return f"unknown ({exc})"
        count = sum(v.get("CurrentInstanceCount", 0) for v in described.get("ProductionVariants", []))
        return f"{described['EndpointStatus']}, {count} instance(s) in service"

    return Target(
        name=f"SongService-{stage}",
        api_url=outputs["ApiUrl"],
        user=user,
        sign_in=sign_in,
        endpoint_state=endpoint_state if "EndpointName" in outputs else None,
        grant_command=f"python -m ops --stage {stage} grant",
        where_to_look=f"the dashboard {outputs.get('DashboardName', '')} and its alarms; docs/operations.md",
    )


def _new_password() -> str:
    # The pool's policy: 12+ characters with lower and upper case, digits and symbols.
    return f"Smoke-{secrets.token_urlsafe(18)}-9a!"


def _ensure_user(cognito: Any, pool: str, user: str, password: str) -> None:
    """Create the smoke user (verified e-mail, no invitation mail) if missing; set this run's password."""
    try:
        cognito.admin_get_user(UserPoolId=pool, Username=user)
    except cognito.exceptions.UserNotFoundException:
        cognito.admin_create_user(
            UserPoolId=pool,
            Username=user,
            UserAttributes=[{"Name": "email", "Value": user}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
    cognito.admin_set_user_password(UserPoolId=pool, Username=user, Password=password, Permanent=True)
