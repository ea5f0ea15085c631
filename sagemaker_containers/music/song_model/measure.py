"""Every delivered take mastered, measured, scored and ranked, in the time the GPU paints the cover.

`Measurer.start` (right after the music stage) hands the signal processing to a small pool of CPU
threads, two tasks a take: mastering (song_model/mastering.py, which measures the loudness and true
peak of what it delivers) and the tempo and key (song_model/analysis.py, on the rendered take: a
gain and a limiter on peaks change neither). numpy, scipy, libsoxr and librosa's kernels release
the GIL in their loops, so this runs on the instance's otherwise idle cores while the main thread
drives the GPU through the cover stage. `Measuring.finish` then runs the two scoring models on the
GPU (song_model/scoring.py: CLAP on the mastered takes, Whisper for vocal takes), waits for the CPU
work, compares the lyrics with what Whisper heard (song_model/lyrics_timing.py), and ranks the
takes (song_model/ranking.py). `Measured.publish` writes each vocal take's LRC file beside its
audio and returns the manifest's per-take results.

Stems are one take of several tracks: one mastering gain for the whole set, and the analysis of
their mix.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import analysis, lyrics_timing, mastering, ranking, storage
from .audio_in import Rendered
from .engines import Audio, MusicMetadata
from .schemas import Analysis as AnalysisModel
from .schemas import AnyRequest, LyricsTimingObject, Output, Scores, StemsRequest, TakeResult
from .scoring import Scorer

log = logging.getLogger(__name__)

LRC_CONTENT_TYPE = "text/plain; charset=utf-8"
DEFAULT_TARGET = mastering.Target()


@dataclass(frozen=True)
class MeasureJob:
    """What the takes are measured against."""

    prompt: str | None  # the style prompt (CLAP's text); None: no text-audio score
    lyrics: str | None  # None: instrumental (no lyrics accuracy, no LRC)
    language: str | None = None  # ISO 639-1, passed to Whisper when set
    bpm: float | None = None  # the tempo the song was rendered with, for bpm_error
    key: str | None = None  # the key the song was rendered with, for key_match
    target: mastering.Target | None = DEFAULT_TARGET  # the delivered level; None: the raw level
    title: str | None = None  # the LRC file's title tag


@dataclass(frozen=True)
class _Delivered:
    """One take's mastered files, their gain, and the level of what is delivered."""

    files: list[Rendered]
    gain_db: float
    level: analysis.Level


@dataclass(frozen=True)
class TakeMeasurement:
    take: int
    analysis: analysis.Analysis
    scores: ranking.Scores
    gain_db: float
    lyrics: lyrics_timing.LyricsMatch | None = None
    rank: int = 1


def measure_job(
    request: AnyRequest, prompt: str | None, lyrics: str | None, metadata: MusicMetadata | None = None
) -> MeasureJob:
    """What a request's takes are measured against. `metadata`: what the music stage ran with (the
    request's tempo and key, or in description mode the songwriter's proposal); audio-in modes
    have the request's own. Stems are compared with nothing: no prompt, no lyrics."""
    metadata = metadata or MusicMetadata(
        bpm=request.bpm, key=request.key, vocal_language=request.vocal_language
    )
    stems = isinstance(request, StemsRequest)
    wanted = request.mastering
    return MeasureJob(
        prompt=None if stems else prompt or None,
        lyrics=None if stems or request.instrumental else lyrics or None,
        language=metadata.vocal_language,
        bpm=metadata.bpm,
        key=metadata.key,
        target=mastering.Target(wanted.loudness_lufs, wanted.true_peak_dbtp) if wanted else None,
        title=request.title,
    )


def default_workers() -> int:
    """CPU threads for the signal processing: half the cores (torch keeps the rest), 1..4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


class Measurer:
    def __init__(self, scorer: Scorer | None, workers: int | None = None) -> None:
        self.scorer = scorer
        self.pool = ThreadPoolExecutor(max_workers=workers or default_workers(), thread_name_prefix="measure")

    def start(self, files: list[Rendered], job: MeasureJob) -> Measuring:
        """Master every take and measure its tempo and key on the CPU threads (two tasks a take,
        side by side: tempo and key do not change with the level); returns at once."""
        takes = sorted({file.take for file in files})
        delivered: dict[int, Future[_Delivered]] = {}
        music: dict[int, Future[analysis.Musical]] = {}
        for take in takes:
            group = [file for file in files if file.take == take]
            delivered[take] = self.pool.submit(_master, group, job.target)
            music[take] = self.pool.submit(analysis.musical, mix(group), group[0].audio.sample_rate)
        return Measuring(self.scorer, job, delivered, music)


def _master(files: list[Rendered], target: mastering.Target | None) -> _Delivered:
    rate = files[0].audio.sample_rate
    if target is None:
        return _Delivered(files, 0.0, analysis.level(mix(files), rate))
    if len(files) == 1 and files[0].track is None:
        result = mastering.master(files[0].audio.samples, rate, target)
        level = analysis.Level(result.loudness_lufs, result.true_peak_dbtp)
        if result.true_peak_dbtp is None:  # mastering stopped before measuring its result
            level = analysis.level(result.samples, rate)
        audio = Audio(result.samples, rate)
        return _Delivered([dataclasses.replace(files[0], audio=audio)], result.gain_db, level)
    stems = mastering.set_gain([file.audio.samples for file in files], rate, target)
    delivered = [
        dataclasses.replace(file, audio=Audio(mastering.apply_gain(file.audio.samples, stems.gain_db), rate))
        for file in files
    ]
    return _Delivered(delivered, stems.gain_db, analysis.Level(stems.loudness_lufs, stems.true_peak_dbtp))


def mix(files: list[Rendered]) -> np.ndarray:
    """The take's audio: its one file, or the sum of its stems."""
    if len(files) == 1:
        return files[0].audio.samples
    return np.sum([file.audio.samples for file in files], axis=0, dtype=np.float32)


class Measuring:
    """The measurements of one song in flight."""

    def __init__(
        self,
        scorer: Scorer | None,
        job: MeasureJob,
        delivered: dict[int, Future[_Delivered]],
        music: dict[int, Future[analysis.Musical]],
    ) -> None:
        self.scorer = scorer
        self.job = job
        self.delivered = delivered
        self.music = music

    def finish(self) -> Measured:
        """Score on the GPU, wait for the CPU work, rank."""
        takes = list(self.delivered)
        delivered = {take: self.delivered[take].result() for take in takes}
        audio = [mix(delivered[take].files) for take in takes]
        rate = delivered[takes[0]].files[0].audio.sample_rate
        text_audio: list[float | None] = [None] * len(takes)
        heard: list[list[lyrics_timing.HeardWord] | None] = [None] * len(takes)
        if self.scorer is not None and self.job.prompt:
            text_audio = list(self.scorer.text_audio(audio, rate, self.job.prompt))
        if self.scorer is not None and self.job.lyrics:
            heard = list(self.scorer.transcribe(audio, rate, self.job.language))
        measurements = []
        for index, take in enumerate(takes):
            duration_s = len(audio[index]) / rate
            measured = analysis.combine(duration_s, delivered[take].level, self.music[take].result())
            words = heard[index]
            matched = (
                lyrics_timing.match(self.job.lyrics, words) if words is not None and self.job.lyrics else None
            )
            scores = dataclasses.replace(
                ranking.request_scores(measured, self.job.bpm, self.job.key),
                text_audio=text_audio[index],
                lyrics_accuracy=matched.accuracy if matched else None,
            )
            measurements.append(TakeMeasurement(take, measured, scores, delivered[take].gain_db, matched))
        order = ranking.ranks([m.scores for m in measurements])
        measurements = [
            dataclasses.replace(m, rank=rank) for m, rank in zip(measurements, order, strict=True)
        ]
        files = [file for take in takes for file in delivered[take].files]
        return Measured(files, measurements, self.job)


@dataclass(frozen=True)
class Measured:
    files: list[Rendered]  # what is delivered: the mastered audio (the raw audio with mastering null)
    takes: list[TakeMeasurement]
    job: MeasureJob

    @property
    def best_take(self) -> int:
        return next(m.take for m in self.takes if m.rank == 1)

    def publish(self, output: Output, seeds: list[int]) -> list[TakeResult]:
        """The manifest's per-take results; each vocal take's LRC file is written beside its audio
        (`lyrics.lrc`, take k > 1: `lyrics-take{k}.lrc`)."""
        results = []
        for m in self.takes:
            timing = None
            if m.lyrics is not None and m.lyrics.lines:
                timing = self._write_lrc(output, m)
            results.append(
                TakeResult(
                    take=m.take,
                    seed=seeds[m.take - 1],
                    rank=m.rank,
                    analysis=AnalysisModel(**dataclasses.asdict(m.analysis)),
                    scores=Scores(**dataclasses.asdict(m.scores)),
                    lyrics_timing=timing,
                    gain_db=m.gain_db,
                )
            )
        return results

    def _write_lrc(self, output: Output, m: TakeMeasurement) -> LyricsTimingObject:
        assert m.lyrics is not None
        body = lyrics_timing.to_lrc(m.lyrics.lines, m.analysis.duration_s, self.job.title).encode()
        key = f"{output.prefix}lyrics{'' if m.take == 1 else f'-take{m.take}'}.lrc"
        storage.put_object(output.bucket, key, body, LRC_CONTENT_TYPE)
        return LyricsTimingObject(
            bucket=output.bucket,
            key=key,
            size_bytes=len(body),
            lines=len(m.lyrics.lines),
            measured_lines=sum(line.measured for line in m.lyrics.lines),
        )
