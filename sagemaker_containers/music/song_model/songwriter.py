"""The LLM stage: style tags, lyrics with section tags, and genre categories.

One instruction-tuned causal LM (Qwen2-7B-Instruct by default) driven through its chat template.
Generation is sampled under the request seed, so the same request writes the same words.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import torch

from .categories import GENRES, pick_categories
from .engines import MusicMetadata
from .errors import ModelError
from .schemas import BPM_MAX, BPM_MIN, KEY_PATTERN, LANGUAGE_PATTERN

log = logging.getLogger(__name__)

SYSTEM = "You are a professional songwriter and music producer."
MAX_TAGS = 12
_SECTION_WORDS = ("verse", "chorus", "bridge", "intro", "outro", "pre-chorus", "hook")
# "[Verse 1]", "**Chorus:**", "(Bridge)", "Verse 2:" on a line of their own -> "[verse]" etc.
_SECTION_LINE = re.compile(
    r"^\s*[\*\#_]*\s*[\[\(]?\s*(" + "|".join(_SECTION_WORDS) + r")\b[^\]\)\n]{0,20}[\]\)]?\s*:?\s*[\*_]*\s*$",
    re.IGNORECASE,
)
_TAG_CLEAN = re.compile(r"[^a-z0-9&+\-' ]")
# Control characters and U+FFFD (from a token sequence that is not valid UTF-8) are never lyrics.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")


def clean_tags(text: str) -> list[str]:
    """Comma-separated tags from a model answer, lower-cased, deduplicated, at most MAX_TAGS."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    first = re.sub(r"^\s*(style\s*)?tags?\s*:", "", first, flags=re.IGNORECASE)
    tags: list[str] = []
    for raw in first.split(","):
        tag = " ".join(_TAG_CLEAN.sub(" ", raw.lower()).split())[:40].strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS]


_META_FIELD = re.compile(
    r"^\s*[-*]?\s*(bpm|tempo|key|time signature|language)\s*[:=]\s*(.+?)\s*$", re.I | re.M
)


def parse_metadata(text: str) -> MusicMetadata:
    """bpm / key / time signature / language from `name: value` lines; anything off-rule is dropped
    (None lets ACE-Step decide), so a rambling answer can never make a request invalid."""
    found = {name.lower(): value for name, value in _META_FIELD.findall(text)}
    bpm_text = re.match(r"\d{2,3}", found.get("bpm") or found.get("tempo") or "")
    bpm = int(bpm_text.group()) if bpm_text else None
    key = " ".join((found.get("key") or "").replace("-", " ").split())
    key = key[:1].upper() + key[1:].lower() if key else ""
    signature = re.match(r"([2346])(?:/\d)?$", found.get("time signature", ""))
    language = (found.get("language") or "").lower()
    return MusicMetadata(
        bpm=bpm if bpm is not None and BPM_MIN <= bpm <= BPM_MAX else None,
        key=key if re.match(KEY_PATTERN, key) else None,
        time_signature=int(signature.group(1)) if signature else None,
        vocal_language=language if re.match(LANGUAGE_PATTERN, language) else None,
    )


def clean_lyrics(text: str) -> str:
    """Normalise section headers to [verse]/[chorus]/[bridge]..., drop chatter around the song."""
    text = _UNPRINTABLE.sub("", re.sub(r"```[a-z]*", "", text))
    lines: list[str] = []
    for line in text.splitlines():
        match = _SECTION_LINE.match(line)
        lines.append(f"[{match.group(1).lower()}]" if match else line.rstrip())
    lyrics = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    first_tag = re.search(r"^\[(" + "|".join(_SECTION_WORDS) + r")\]$", lyrics, re.MULTILINE)
    if first_tag:
        # Text before the first section is the model talking ("Here are your lyrics:"), not song.
        return lyrics[first_tag.start() :]
    # Lyrics without any header are sung as one verse.
    return f"[verse]\n{lyrics}" if lyrics else ""


class Songwriter:
    def __init__(self, model: Any, tokenizer: Any, device: torch.device) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device

    def _chat(self, user: str, seed: int, max_new_tokens: int) -> str:
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        inputs = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        torch.manual_seed(seed)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                do_sample=True,
                temperature=0.7,
                top_p=0.9,
                max_new_tokens=max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new_tokens = output[0, inputs["input_ids"].shape[1] :]
        return self.tokenizer.decode(new_tokens, skip_special_tokens=True).strip()

    def style_tags(self, description: str, instrumental: bool, seed: int) -> str:
        """ACE-Step-style prompt: comma-separated genre, mood, instruments, tempo, vocals."""
        vocals = "It is instrumental (no vocals)." if instrumental else "Include the vocal style."
        answer = self._chat(
            "Describe the sound of this song as 5 to 10 short comma-separated tags "
            "(genre, mood, instruments, tempo in bpm). "
            f"{vocals} Output only the tags on one line.\n\nSong: {description}",
            seed,
            max_new_tokens=60,
        )
        tags = clean_tags(answer)
        if not tags:
            # The description itself is a usable free-text prompt for both engines.
            log.warning("LLM returned no usable style tags; using the description as the prompt")
            return description
        if instrumental and "instrumental" not in tags:
            tags.append("instrumental")
        return ", ".join(tags)

    def metadata(self, description: str, style: str, seed: int) -> MusicMetadata:
        """Proposed tempo, key, metre and vocal language for a described song: the job ACE-Step
        1.5's own planner LM does upstream (not part of the diffusers port)."""
        answer = self._chat(
            "Propose the musical settings for this song. Answer with exactly these four lines:\n"
            "bpm: <30-300>\nkey: <note> <major|minor>\ntime signature: <2, 3, 4 or 6>\n"
            "language: <ISO 639-1 code of the vocals>\n\n"
            f"Song: {description}\nStyle: {style}",
            seed,
            max_new_tokens=40,
        )
        return parse_metadata(answer)

    def lyrics(self, about: str, style: str, duration_s: float, seed: int) -> str:
        lines = max(4, round(duration_s / 4))
        answer = self._chat(
            f"Write song lyrics about: {about}\nStyle: {style}\n"
            f"The song lasts {round(duration_s)} seconds, so write about {lines} lines. "
            "Mark each section with a tag on its own line: [verse], [chorus] or [bridge]. "
            "Output only the lyrics.",
            seed,
            # ~1.5 tokens a word, ~6 words a line, plus headers; capped (a 10-minute song gets
            # ~85 lines, which ACE-Step spreads over the length).
            max_new_tokens=min(1024, 32 + lines * 12),
        )
        lyrics = clean_lyrics(answer)
        if not lyrics:
            raise ModelError("the language model returned empty lyrics")
        return lyrics

    def categories(self, prompt: str, about: str) -> list[str]:
        """Rank every genre label by the LLM's likelihood of answering with it; keep 3 to 5.

        Scoring a closed label set cannot produce an unparseable answer, and it needs one
        batched forward pass instead of sampling.
        """
        question = (
            "Which one genre best fits this song? Answer with the genre only.\n"
            f"Song: {about}\nStyle: {prompt}\nGenres: {', '.join(GENRES)}"
        )
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
        prefix = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        end = "<|im_end|>" if "<|im_end|>" in self.tokenizer.get_vocab() else (self.tokenizer.eos_token or "")
        scores = self._answer_logprobs(prefix, [label + end for label in GENRES])
        probs = torch.softmax(scores, dim=0).tolist()
        return pick_categories(dict(zip(GENRES, probs, strict=True)))

    def _answer_logprobs(self, prefix: str, answers: list[str]) -> torch.Tensor:
        """Sum of log-probabilities of each answer's tokens after the shared prefix."""
        tok = self.tokenizer
        prefix_ids = tok(prefix, add_special_tokens=False)["input_ids"]
        answer_ids = [tok(a, add_special_tokens=False)["input_ids"] for a in answers]
        width = len(prefix_ids) + max(len(a) for a in answer_ids)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        ids = torch.full((len(answers), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, answer in enumerate(answer_ids):
            seq = prefix_ids + answer
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        with torch.inference_mode():
            # Run the body and apply the LM head only where answer tokens are predicted: full-vocab
            # logits for every position of every label would take GBs with a 150k vocabulary.
            hidden = self.model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
            head = self.model.get_output_embeddings()
            scores = torch.zeros(len(answers), device=self.device)
            start = len(prefix_ids)
            for row, answer in enumerate(answer_ids):
                positions = torch.arange(start - 1, start - 1 + len(answer), device=self.device)
                logits = head(hidden[row, positions]).float()
                targets = torch.tensor(answer, device=self.device)
                scores[row] = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None]).sum()
        return scores.cpu()
