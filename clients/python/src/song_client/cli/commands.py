"""`songs`: make, follow and download songs from the command line."""

from __future__ import annotations

import functools
import inspect
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ..client import TERMINAL_STATUSES, Client
from ..errors import SongClientError
from ..models import JobStatus, SongDetail
from . import batch as batch_mod
from .config import ConfigFileError, Settings, resolve, write_config
from .output import CliError, ExitCode, Output
from .progress import BatchProgress, SongProgress

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 the API refused or failed the request (or is unreachable); 2 usage "
    "(bad arguments, no API URL, unreadable file); 3 the song failed or was canceled, or the "
    "upload was rejected; 4 no credential or the API did not accept it; 5 insufficient credits; "
    "6 --timeout passed (the song keeps rendering); 130 interrupted."
)

app = typer.Typer(
    name="songs",
    help="Make, follow and download songs with the song service's REST API.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Set by Ctrl-C: waits and polls end at their next sleep, in every thread.
_interrupted = threading.Event()


class Interrupted(Exception):
    pass


def _sleep(seconds: float) -> None:
    if _interrupted.wait(seconds):
        raise Interrupted


# --- shared options --------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result (or the error) as JSON on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]
OutOpt = Annotated[
    Path, typer.Option("--output", "-o", help="Directory for the files (a folder per song).", file_okay=False)
]
DurationOpt = Annotated[int | None, typer.Option("--duration", "-d", help="Length in seconds (10..600).")]
VariantsOpt = Annotated[
    int | None, typer.Option("--variants", "-n", help="Takes to render (1..4), each priced.")
]
SeedOpt = Annotated[int | None, typer.Option(help="Seed (take k uses seed + k - 1).")]
FormatOpt = Annotated[
    list[str] | None,
    typer.Option("--format", "-f", help="Audio format: wav, mp3, flac (repeat for several)."),
]
TitleOpt = Annotated[str | None, typer.Option(help="The song's title.")]
StepsOpt = Annotated[int | None, typer.Option("--steps", help="Inference steps (default: the model's).")]
GuidanceOpt = Annotated[
    float | None, typer.Option("--guidance", help="Guidance scale (default: the model's).")
]
BpmOpt = Annotated[int | None, typer.Option(help="Tempo, beats per minute.")]
KeyOpt = Annotated[str | None, typer.Option("--key", help='Musical key, e.g. "A minor".')]
WebhookOpt = Annotated[str | None, typer.Option("--webhook-url", help="https URL for the song's events.")]
NoWaitOpt = Annotated[bool, typer.Option("--no-wait", help="Submit, print the song and return.")]
TimeoutOpt = Annotated[float | None, typer.Option(help="Stop waiting after this many seconds (exit 6).")]
PollOpt = Annotated[float, typer.Option("--poll", help="Seconds between status checks.", min=0.1)]
IdempotencyOpt = Annotated[
    str | None, typer.Option("--idempotency-key", help="Reuse to make retried submissions one song.")
]
SongIdArg = Annotated[str, typer.Argument(help="The song's id.")]
LyricsOpt = Annotated[str | None, typer.Option("--lyrics", help="The lyrics ([verse], [chorus] tags).")]
LyricsFileOpt = Annotated[
    Path | None,
    typer.Option("--lyrics-file", help="Read the lyrics from a file ('-': stdin).", dir_okay=False),
]


def _song_fields(**fields: Any) -> dict[str, Any]:
    """The request's common fields that were given (the API fills in the rest)."""
    names = {"duration": "duration_s", "steps": "inference_steps", "guidance": "guidance_scale"}
    given = {name: value for name, value in fields.items() if value is not None and value is not False}
    body = {names.get(name, name): value for name, value in given.items() if value != []}
    if "format" in body:
        body["formats"] = body.pop("format")
    return body


# The options of every command that makes a song, in the order `--help` lists them: the request's
# common fields, then where to save and how to wait. name -> (annotation, default).
_FIELD_OPTIONS: dict[str, tuple[Any, Any]] = {
    "duration": (DurationOpt, None),
    "variants": (VariantsOpt, None),
    "seed": (SeedOpt, None),
    "format": (FormatOpt, None),
    "title": (TitleOpt, None),
    "steps": (StepsOpt, None),
    "guidance": (GuidanceOpt, None),
    "bpm": (BpmOpt, None),
    "key": (KeyOpt, None),
    "webhook_url": (WebhookOpt, None),
}
_WAIT_OPTIONS: dict[str, tuple[Any, Any]] = {
    "no_wait": (NoWaitOpt, False),
    "timeout": (TimeoutOpt, None),
    "poll": (PollOpt, 2.0),
    "idempotency_key": (IdempotencyOpt, None),
}


@dataclass(frozen=True)
class SongOptions:
    """What a song-making command was given of the shared options."""

    fields: dict[str, Any]  # the request's common fields that were given (`_song_fields`)
    output_dir: Path
    no_wait: bool
    timeout: float | None
    poll: float
    idempotency_key: str | None


def _song_options(*, without: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Give a command the shared song options (less `without`) after its own options, and
    pass them to it as one `options: SongOptions` (an option left out has its default there)."""
    every = {"output_dir": (OutOpt, Path(".")), **_FIELD_OPTIONS, **_WAIT_OPTIONS}
    table = {name: option for name, option in every.items() if name not in without}

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in table}
            fields = _song_fields(**{name: given[name] for name in _FIELD_OPTIONS if name in given})
            waiting = {name: given.get(name, default) for name, (_, default) in _WAIT_OPTIONS.items()}
            options = SongOptions(fields, given["output_dir"], **waiting)
            return func(*args, options=options, **kwargs)

        signature = inspect.signature(func, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "options"]
        at = next(i for i, p in enumerate(own) if p.name == "output")
        shared = [
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=hint, default=default)
            for name, (hint, default) in table.items()
        ]
        run.__signature__ = signature.replace(parameters=[*own[:at], *shared, *own[at:]])  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return decorate


# --- plumbing ----------------------------------------------------------------------------------


@app.callback()
def _global_options(
    ctx: typer.Context,
    api_url: Annotated[
        str | None, typer.Option(envvar="SONG_API_URL", help="The API's URL, stage included (…/v1).")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="SONG_API_KEY", help="Your credential, sent as a bearer token.", show_default=False
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            envvar="SONG_CONFIG", help="Config file (default ~/.config/songs/config.toml).", dir_okay=False
        ),
    ] = None,
) -> None:
    ctx.obj = (api_url, api_key, config)


def _settings(ctx: typer.Context) -> Settings:
    api_url, api_key, config = ctx.find_root().obj
    return resolve(api_url, api_key, config)


def _client(ctx: typer.Context) -> Client:
    settings = _settings(ctx)
    if not settings.api_url:
        raise CliError(
            "no API URL: pass --api-url, set SONG_API_URL or run `songs configure`",
            ExitCode.USAGE,
            "NotConfigured",
        )
    if not settings.api_key:
        raise CliError(
            "no API key: pass --api-key, set SONG_API_KEY or run `songs configure`",
            ExitCode.AUTH,
            "NoCredential",
        )
    return Client(settings.api_key, settings.api_url, sleep=_sleep)


def _command(func: F | None = None, *, progress: bool = False) -> Any:
    """A command's --json (and, with `progress`, --quiet) options, turned into its `output`; errors
    -> a message in the API's words (or a JSON error) and the documented exit code."""
    if func is None:
        return functools.partial(_command, progress=progress)
    options = {"json_output": JsonOpt} | ({"quiet": QuietOpt} if progress else {})

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        output = Output(*(kwargs.pop(name) for name in options))
        _interrupted.clear()
        try:
            return func(*args, output=output, **kwargs)
        except (KeyboardInterrupt, Interrupted):
            _interrupted.set()
            output.err.print("interrupted: songs already submitted keep rendering (`songs list`)")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except (SongClientError, CliError, ConfigFileError, OSError) as exc:
            raise typer.Exit(output.error(exc)) from None

    # Typer reads the signature: the injected `output` becomes the options it is made from.
    signature = inspect.signature(func, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "output"]
    added = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=hint, default=False)
        for name, hint in options.items()
    ]
    run.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    return run


def _save(client: Client, song: SongDetail, directory: Path) -> list[Path]:
    """Every file of the song, plus song.json (the song as the API returned it)."""
    files = client.download(song, directory)
    meta = directory / "song.json"
    meta.write_text(json.dumps(song.model_dump(mode="json"), indent=2) + "\n")
    return [*files, meta]


def _song_command(*, without: tuple[str, ...] = ()) -> Callable[[F], Any]:
    """A command that makes songs: the shared song options (`_song_options`), --json and --quiet."""
    return lambda func: _command(_song_options(without=without)(func), progress=True)


def _make_song(
    ctx: typer.Context,
    output: Output,
    body: dict[str, Any],
    options: SongOptions,
    client: Client | None = None,
) -> None:
    """Submit, follow with the progress display, save every file: the commands that make a song."""
    with client or _client(ctx) as api:
        song = api.create_song(body, idempotency_key=options.idempotency_key)
        price = song.price_credits
        output.note(f"song {song.job_id} submitted ({price} credit{'' if price == 1 else 's'} reserved)")
        if options.no_wait:
            output.result(song, song.job_id)
            return
        _follow_and_save(
            api, output, song, out_dir=options.output_dir, timeout=options.timeout, poll=options.poll
        )


def _follow_and_save(
    api: Client, output: Output, song: SongDetail, *, out_dir: Path, timeout: float | None, poll: float
) -> None:
    label = f"song {song.job_id[:8]}"
    try:
        with SongProgress(output.err, label, enabled=not output.quiet) as progress:
            song = api.wait(song, on_progress=progress, poll_interval_s=poll, timeout_s=timeout)
    except (KeyboardInterrupt, Interrupted):
        output.err.print(f"song {song.job_id} keeps rendering: `songs wait {song.job_id} -o {out_dir}`")
        raise
    _save_finished(api, output, song, out_dir)


def _save_finished(api: Client, output: Output, song: SongDetail, out_dir: Path) -> None:
    """A finished song: its files saved into OUT_DIR/<id>/ and listed, or why it failed (exit 3)."""
    if song.status is not JobStatus.processed:
        _report(output, song, [])
        raise typer.Exit(ExitCode.SONG_FAILED)
    _report(output, song, _save(api, song, out_dir / song.job_id))


def _report(output: Output, song: SongDetail, files: list[Path]) -> None:
    if output.json_mode:
        output.json({"song": song.model_dump(mode="json"), "files": [str(path) for path in files]})
        return
    if song.status is not JobStatus.processed:
        error = song.error
        reason = f": {error.message} ({error.code})" if error else ""
        output.err.print(f"[bold red]song {song.job_id} {song.status.value}[/]{reason}")
        return
    title = f" “{song.title}”" if song.title else ""
    output.out.print(f"song {song.job_id}{title}: {len(files)} files")
    for path in files:
        output.out.print(f"  {path}")


def _lyrics_text(lyrics: str | None, lyrics_file: Path | None) -> str | None:
    if lyrics and lyrics_file:
        raise CliError("give --lyrics or --lyrics-file, not both", ExitCode.USAGE)
    if lyrics_file:
        return typer.get_text_stream("stdin").read() if str(lyrics_file) == "-" else lyrics_file.read_text()
    return lyrics


# --- commands ----------------------------------------------------------------------------------


@app.command()
@_song_command()
def generate(
    ctx: typer.Context,
    description: Annotated[
        str, typer.Argument(help="What the song should be; the service writes the lyrics.")
    ],
    instrumental: Annotated[bool, typer.Option(help="No vocals.")] = False,
    *,
    options: SongOptions,
    output: Output,
) -> None:
    """Make a song from a description, show its progress, save every take and the cover."""
    fields = {**_song_fields(instrumental=instrumental), **options.fields}
    _make_song(ctx, output, {"mode": "description", "description": description, **fields}, options)


@app.command()
@_song_command()
def instrumental(
    ctx: typer.Context,
    description: Annotated[str, typer.Argument(help="What the music should be.")],
    *,
    options: SongOptions,
    output: Output,
) -> None:
    """Make an instrumental (no vocals) from a description."""
    body = {"mode": "description", "description": description, "instrumental": True, **options.fields}
    _make_song(ctx, output, body, options)


@app.command()
@_song_command()
def lyrics(
    ctx: typer.Context,
    style: Annotated[str, typer.Argument(help='Style tags, e.g. "lofi, piano, mellow".')],
    lyrics: LyricsOpt = None,
    lyrics_file: LyricsFileOpt = None,
    about: Annotated[
        str | None, typer.Option("--about", help="Let the service write the lyrics about this instead.")
    ] = None,
    *,
    options: SongOptions,
    output: Output,
) -> None:
    """Sing your lyrics (--lyrics or --lyrics-file) in a style; or --about: lyrics written for you."""
    text = _lyrics_text(lyrics, lyrics_file)
    if (text is None) == (about is None):
        raise CliError("give the lyrics (--lyrics or --lyrics-file) or --about, one of them", ExitCode.USAGE)
    if text is not None:
        body = {"mode": "custom_lyrics", "prompt": style, "lyrics": text, **options.fields}
    else:
        body = {"mode": "described_lyrics", "prompt": style, "described_lyrics": about, **options.fields}
    _make_song(ctx, output, body, options)


@app.command()
@_song_command(without=("duration",))  # a cover is as long as its source
def cover(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="The track to cover (wav, mp3, flac, ogg).", exists=True, dir_okay=False)
    ],
    style: Annotated[
        str, typer.Option("--style", "-s", help='The new style, e.g. "jazz trio, brushed drums".')
    ],
    strength: Annotated[
        float | None, typer.Option(help="0..1: how close to the source (1 = closest; default 0.5).")
    ] = None,
    lyrics: LyricsOpt = None,
    lyrics_file: LyricsFileOpt = None,
    *,
    options: SongOptions,
    output: Output,
) -> None:
    """Upload a track, wait for its check, and make a cover of it in another style."""
    fields = {**options.fields, **_song_fields(strength=strength, lyrics=_lyrics_text(lyrics, lyrics_file))}
    with _client(ctx) as client:
        output.note(f"uploading {file.name} …")
        source = client.upload_file(file, poll_interval_s=min(options.poll, 1.0))
        output.note(f"upload {source.upload_id} ready ({source.duration_s:g} s)")
        body = {"mode": "cover", "source": {"upload_id": source.upload_id}, "prompt": style, **fields}
        _make_song(ctx, output, body, options, client)


@app.command()
@_command(progress=True)
def upload(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="The track (wav, mp3, flac, ogg).", exists=True, dir_okay=False)
    ],
    *,
    output: Output,
) -> None:
    """Upload a track for the audio-in modes and wait for its check; prints the upload id."""
    with _client(ctx) as client:
        uploaded = client.upload_file(file)
    output.result(uploaded, uploaded.upload_id)


@app.command()
@_song_command(without=("seed", "title", "bpm", "key", "webhook_url", "no_wait", "idempotency_key"))
def batch(
    ctx: typer.Context,
    prompts: Annotated[
        Path,
        typer.Argument(
            help="One description per line (# comments, blank lines skipped).", exists=True, dir_okay=False
        ),
    ],
    parallel: Annotated[
        int, typer.Option("--parallel", "-p", help="Songs in flight at once.", min=1, max=16)
    ] = 2,
    instrumental: Annotated[bool, typer.Option(help="No vocals.")] = False,
    *,
    options: SongOptions,
    output: Output,
) -> None:
    """A song per line of PROMPTS, saved under OUTPUT/<line>-<prompt>/. Resumable: a re-run skips
    the lines that are done, follows songs already submitted and retries failed ones (state:
    OUTPUT/.songs-batch.json)."""
    fields = {**_song_fields(instrumental=instrumental), **options.fields}
    lines = batch_mod.plan(batch_mod.read_prompts(prompts), fields)
    if not lines:
        raise CliError(f"{prompts}: no prompts (one per line)", ExitCode.USAGE)
    with _client(ctx) as client, BatchProgress(output.err, enabled=not output.quiet) as progress:
        runner = batch_mod.Batch(
            client,
            options.output_dir,
            progress,
            poll_interval_s=options.poll,
            timeout_s=options.timeout,
            save_song=_save,
            stop=_interrupted,
        )
        results = runner.run(lines, parallel)
    code = batch_mod.exit_code(results)
    if output.json_mode:
        output.json({"lines": [result.to_json() for result in results], "exit_code": int(code)})
    else:
        counts = Counter(result.outcome for result in results)
        summary = ", ".join(f"{count} {outcome.replace('_', ' ')}" for outcome, count in counts.items())
        output.out.print(f"{len(results)} lines: {summary} ({options.output_dir})")
    raise typer.Exit(code)


@app.command("list")
@_command
def list_songs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Songs per page (1..50).", min=1, max=50)] = 20,
    all_pages: Annotated[bool, typer.Option("--all", help="Every song, not only the newest page.")] = False,
    *,
    output: Output,
) -> None:
    """Your songs, newest first."""
    from rich.table import Table

    with _client(ctx) as client:
        if all_pages:
            songs, next_token = list(client.iter_songs(page_size=limit)), None
        else:
            page = client.list_songs(limit=limit)
            songs, next_token = page.songs, page.next_token
    if output.json_mode:
        output.json({"songs": [song.model_dump(mode="json") for song in songs], "next_token": next_token})
        return
    table = Table(box=None)
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("status", no_wrap=True)
    table.add_column("mode", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("credits", justify="right")
    table.add_column("title", overflow="fold")
    for song in songs:
        created = song.created_at[:19].replace("T", " ")
        credits = "" if song.price_credits is None else str(song.price_credits)
        table.add_row(song.job_id, song.status.value, song.mode, created, credits, song.title or "")
    output.out.print(table)
    if next_token:
        output.err.print("more songs: --all")


@app.command()
@_command
def get(ctx: typer.Context, song_id: SongIdArg, *, output: Output) -> None:
    """One song: status, stage, error; once processed its words and files."""
    from rich.table import Table

    with _client(ctx) as client:
        song = client.get_song(song_id)
    if output.json_mode:
        output.json(song)
        return
    table = Table(show_header=False, box=None)
    rows = {
        "id": song.job_id,
        "status": song.status.value,
        "stage": song.stage,
        "mode": song.mode,
        "title": song.title,
        "created": song.created_at,
        "credits": song.price_credits,
        "queue position": song.queue_position,
        "ETA (s)": song.eta_s,
        "error": f"{song.error.message} ({song.error.code})" if song.error else None,
        "duration (s)": song.duration_s,
        "seed": song.seed,
        "takes": len(song.takes) if song.takes else None,
        "categories": ", ".join(song.categories) if song.categories else None,
        "prompt": song.prompt,
        "lyrics": song.lyrics,
    }
    for name, value in rows.items():
        if value is not None:
            table.add_row(name, str(value))
    output.out.print(table)


@app.command()
@_command(progress=True)
def wait(
    ctx: typer.Context,
    song_id: SongIdArg,
    output_dir: OutOpt = Path("."),
    timeout: TimeoutOpt = None,
    poll: PollOpt = 2.0,
    *,
    output: Output,
) -> None:
    """Follow a submitted song until it is done, then save its files."""
    with _client(ctx) as client:
        song = client.get_song(song_id)
        _follow_and_save(client, output, song, out_dir=output_dir, timeout=timeout, poll=poll)


@app.command()
@_command
def download(
    ctx: typer.Context,
    song_id: SongIdArg,
    output_dir: OutOpt = Path("."),
    *,
    output: Output,
) -> None:
    """Save every take, stem and the cover of a processed song into OUTPUT/<id>/."""
    with _client(ctx) as client:
        song = client.get_song(song_id)
        if song.status not in TERMINAL_STATUSES:
            raise CliError(
                f"song {song_id} is {song.status.value}: no files yet (`songs wait {song_id}`)",
                ExitCode.API_ERROR,
                "SongNotReady",
            )
        _save_finished(client, output, song, output_dir)


@app.command()
@_command
def cancel(ctx: typer.Context, song_id: SongIdArg, *, output: Output) -> None:
    """Cancel a queued or rendering song (it is not charged)."""
    with _client(ctx) as client:
        song = client.cancel_song(song_id)
    output.result(song, f"song {song.job_id} {song.status.value}")


@app.command()
@_command
def delete(ctx: typer.Context, song_id: SongIdArg, *, output: Output) -> None:
    """Delete a finished song and its files."""
    with _client(ctx) as client:
        client.delete_song(song_id)
    output.result({"deleted": song_id}, f"song {song_id} deleted")


@app.command()
@_command
def me(ctx: typer.Context, *, output: Output) -> None:
    """Your user id and credits."""
    with _client(ctx) as client:
        account = client.me()
    if output.json_mode:
        output.json(account)
        return
    output.out.print(f"user      {account.user_id}")
    output.out.print(
        f"credits   {account.credits} ({account.reserved_credits} reserved, "
        f"{account.available_credits} available)"
    )


@app.command()
@_command
def configure(
    ctx: typer.Context,
    api_url: Annotated[str | None, typer.Option("--url", help="The API's URL (…/v1).")] = None,
    api_key: Annotated[str | None, typer.Option("--key", help="Your credential.")] = None,
    check: Annotated[bool, typer.Option(help="Call GET /me with the new settings.")] = True,
    *,
    output: Output,
) -> None:
    """Save the API URL and credential in the config file (readable by you only)."""
    settings = _settings(ctx)
    api_url = api_url or typer.prompt("API URL", default=settings.api_url or None)
    api_key = api_key or typer.prompt("API key", hide_input=True)
    if check:
        with Client(api_key, api_url, sleep=_sleep) as client:
            account = client.me()
        output.note(f"signed in as {account.user_id} ({account.available_credits} credits available)")
    write_config(settings.config_path, api_url, api_key)
    output.result({"config": str(settings.config_path)}, f"saved {settings.config_path}")


def main() -> None:
    app()
