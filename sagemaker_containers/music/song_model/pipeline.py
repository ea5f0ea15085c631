"""One request end to end: words -> music -> cover -> S3 -> manifest."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import secrets
import time
from collections.abc import Iterator
from typing import Any

import torch

from . import audio_io, persona, storage
from .audio_in import AudioInRenderer, Rendered
from .cover import Cover, cover_prompt
from .engines import TEXT2MUSIC, AudioInput, MusicJob, MusicMetadata, take_seeds
from .errors import ModelError, OutOfMemory, ServiceError
from .measure import Measured, MeasureJob, measure_job
from .models import Models
from .schemas import (
    AudioInRequest,
    AudioObject,
    CoverObject,
    CoverRequest,
    CustomLyricsRequest,
    DescribedLyricsRequest,
    DescriptionRequest,
    Manifest,
    MusicSettings,
    StemsRequest,
    Timings,
)

log = logging.getLogger(__name__)

Request = DescriptionRequest | CustomLyricsRequest | DescribedLyricsRequest


@dataclasses.dataclass(frozen=True)
class _Song:
    """A request's words and rendered takes: what every mode hands to the same last steps."""

    prompt: str  # as the manifest shows it; the cover is painted from it too
    lyrics: str | None
    categories: list[str]
    seeds: list[int]  # one per take; the first is the request's seed
    engine: str
    music: MusicSettings
    rendered: list[Rendered]
    measure: MeasureJob
    persona: Any  # what the persona applied (the manifest's `persona`), or None
    marks: tuple[float, float]  # perf_counter when the words, then the music, were done


def _music_settings(sampling: Any, metadata: MusicMetadata) -> MusicSettings:
    return MusicSettings(
        inference_steps=sampling.steps, guidance_scale=sampling.guidance_scale, **dataclasses.asdict(metadata)
    )


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Turn a model failure into an error for this request alone, with the stage in the message."""
    try:
        yield
    except ServiceError:
        raise
    except torch.OutOfMemoryError as exc:
        # Free what the failed step held so the next request starts from the resident models.
        gc.collect()
        torch.cuda.empty_cache()
        raise OutOfMemory(f"out of GPU memory during {name}") from exc
    except Exception as exc:
        log.exception("%s failed", name)
        raise ModelError(f"{name} failed: {type(exc).__name__}: {exc}") from exc


class SongPipeline:
    """Each stage has its model on the GPU while it runs: offloaded parts (the LLM and the stems
    checkpoint by default) are moved in for their stage and dropped after it (residency.py)."""

    def __init__(self, models: Models) -> None:
        self.models = models
        self.residency = models.residency

    def run(self, request: Request | AudioInRequest) -> Manifest:
        started = time.perf_counter()
        seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
        if isinstance(request, Request):
            song = self._compose(request, seed)
        else:
            song = self._compose_audio_in(request, seed)
        return self._finish(request, song, started)

    def _compose(self, request: Request, seed: int) -> _Song:
        """The words (the LLM) and the takes' music of a text mode."""
        # A persona's clip is read and checked before any model runs: a bad one costs nothing.
        loaded = persona.load(request.persona, self.models.engine) if request.persona else None
        with stage("lyrics"), self.residency.on_device("llm"):
            prompt, lyrics, categories = self._words(request, seed)
            metadata = self._metadata(request, prompt, seed)
        words_done = time.perf_counter()
        job = MusicJob(
            prompt=prompt,
            lyrics=lyrics,
            duration_s=request.duration_s,
            seed=seed,
            steps=request.inference_steps,
            guidance_scale=request.guidance_scale,
            metadata=metadata,
            audio_input=AudioInput(TEXT2MUSIC, reference=loaded.reference) if loaded else None,
        )
        seeds = take_seeds(seed, request.variants)
        with stage("music"):
            takes = self.models.engine.generate_takes(job, seeds)
        return _Song(
            prompt=prompt,
            lyrics=lyrics,
            categories=categories,
            seeds=seeds,
            engine=self.models.engine.name,
            music=_music_settings(self.models.engine.sampling(job), metadata),
            rendered=[Rendered(None, audio, take) for take, audio in enumerate(takes, start=1)],
            measure=measure_job(request, prompt, lyrics, metadata),
            persona=loaded.applied if loaded else None,
            marks=(words_done, time.perf_counter()),
        )

    def _compose_audio_in(self, request: AudioInRequest, seed: int) -> _Song:
        """cover / repaint / extend / stems of the source track (song_model/audio_in.py)."""
        renderer = AudioInRenderer(self.models.engine, self.models.stems_engine)
        engine = renderer.check(request)  # a mode this endpoint cannot run fails before any work
        chosen = request.persona if isinstance(request, CoverRequest) else None
        loaded = persona.load(chosen, engine) if chosen else None
        if isinstance(request, StemsRequest):
            prompt, lyrics = "", None
            about = f"stems ({', '.join(request.tracks)}) of an uploaded track"
        else:
            prompt, lyrics = persona.styled_prompt(request.prompt or "", chosen), request.lyrics
            about = prompt or f"a {request.mode} of an uploaded track"
        with stage("lyrics"), self.residency.on_device("llm"):
            categories = self.models.songwriter.categories(prompt or about, about)
        words_done = time.perf_counter()
        job = MusicJob(
            prompt, lyrics, request.duration_s, seed, request.inference_steps, request.guidance_scale
        )
        seeds = take_seeds(seed, request.variants)
        part = "stems" if engine is self.models.stems_engine else "music"
        with stage("music"), self.residency.on_device(part):
            reference = loaded.reference if loaded else None
            rendered = renderer.render(request, engine, prompt, lyrics, seeds, reference)
        return _Song(
            prompt=prompt or about,
            lyrics=lyrics,
            categories=categories,
            seeds=seeds,
            engine=engine.name,
            music=_music_settings(engine.sampling(job), MusicMetadata()),
            rendered=rendered,
            measure=measure_job(request, prompt, lyrics),
            persona=loaded.applied if loaded else None,
            marks=(words_done, time.perf_counter()),
        )

    def _finish(self, request: Request | AudioInRequest, song: _Song, started: float) -> Manifest:
        """What every mode does after its music: the cover while the takes are measured, the
        measurements, the upload, the manifest."""
        measuring = self.models.measurer.start(song.rendered, song.measure)
        painting = cover_prompt(song.prompt, song.categories, request.title)
        with stage("cover"), self.residency.on_device("cover"):
            cover = self.models.cover.paint(painting, song.seeds[0])
        cover_done = time.perf_counter()
        with stage("measure"), self.residency.on_device("scoring"):
            measured = measuring.finish()
        measure_done = time.perf_counter()
        audio_objects, cover_object = self._upload(request, measured.files, cover)
        done = time.perf_counter()
        first = song.rendered[0].audio
        return Manifest(
            job_id=request.job_id,
            audio=audio_objects,
            cover=cover_object,
            sample_rate=first.sample_rate,
            duration_s=round(first.duration_s, 3),
            lyrics=song.lyrics,
            prompt=song.prompt,
            categories=song.categories,
            seed=song.seeds[0],
            seeds=song.seeds,
            engine=song.engine,
            music=song.music,
            **self._results(request, measured, song.seeds),
            timings=_timings(started, *song.marks, cover_done, measure_done, done),
            persona=song.persona,
        )

    @staticmethod
    def _results(request: Request | AudioInRequest, measured: Measured, seeds: list[int]) -> dict[str, Any]:
        """The manifest's measurement fields; writes the takes' LRC files (song_model/measure.py)."""
        takes = measured.publish(request.output, seeds)
        return {"takes": takes, "best_take": measured.best_take, "mastering": request.mastering}

    def _words(self, request: Request, seed: int) -> tuple[str, str | None, list[str]]:
        """The engine prompt, the lyrics (None when instrumental) and the categories."""
        writer = self.models.songwriter
        if isinstance(request, DescriptionRequest):
            about = request.description
            prompt = writer.style_tags(about, request.instrumental, seed)
        else:
            prompt = request.prompt
            about = request.described_lyrics if isinstance(request, DescribedLyricsRequest) else prompt
        prompt = persona.styled_prompt(prompt, request.persona)
        lyrics: str | None
        if request.instrumental:
            lyrics = None
        elif isinstance(request, CustomLyricsRequest):
            lyrics = request.lyrics
        else:
            lyrics = writer.lyrics(about, prompt, request.duration_s, seed)
        return prompt, lyrics, writer.categories(prompt, about)

    def _metadata(self, request: Request, prompt: str, seed: int) -> MusicMetadata:
        """The request's bpm/key/time signature/language; in description mode the songwriter
        proposes the ones the user left out (the user's values always win)."""
        given = MusicMetadata(
            bpm=request.bpm,
            key=request.key,
            time_signature=request.time_signature,
            vocal_language=request.vocal_language,
        )
        missing = [f.name for f in dataclasses.fields(given) if getattr(given, f.name) is None]
        if not isinstance(request, DescriptionRequest) or not missing:
            return given
        proposed = self.models.songwriter.metadata(request.description, prompt, seed)
        return dataclasses.replace(given, **{name: getattr(proposed, name) for name in missing})

    def _upload(
        self, request: Request | AudioInRequest, files: list[Rendered], cover: Cover
    ) -> tuple[list[AudioObject], CoverObject]:
        """Every file in every requested format: `audio.{fmt}` (take k > 1: `audio-take{k}.{fmt}`),
        or `stem-{track}.{fmt}` for stems."""
        bucket, prefix = request.output.bucket, request.output.prefix
        audio_objects = []
        for file in files:
            name = "audio" if file.track is None else f"stem-{file.track}"
            name += "" if file.take == 1 else f"-take{file.take}"
            for fmt in request.formats:
                with stage(f"encoding {fmt}"):
                    body = audio_io.encode(file.audio, fmt)
                key = f"{prefix}{name}.{fmt}"
                content_type = audio_io.CONTENT_TYPES[fmt]
                storage.put_object(bucket, key, body, content_type)
                audio_objects.append(
                    AudioObject(
                        format=fmt,
                        track=file.track,
                        take=file.take,
                        bucket=bucket,
                        key=key,
                        content_type=content_type,
                        size_bytes=len(body),
                    )
                )
        key = f"{prefix}cover.png"
        storage.put_object(bucket, key, cover.png, "image/png")
        cover_object = CoverObject(
            bucket=bucket, key=key, width=cover.width, height=cover.height, size_bytes=len(cover.png)
        )
        return audio_objects, cover_object


def _timings(
    started: float, words: float, music: float, cover: float, measured: float, done: float
) -> Timings:
    """Stage durations from the perf_counter marks taken at the end of each stage."""
    return Timings(
        lyrics_s=round(words - started, 3),
        music_s=round(music - words, 3),
        cover_s=round(cover - music, 3),
        measure_s=round(measured - cover, 3),
        upload_s=round(done - measured, 3),
        total_s=round(done - started, 3),
    )
