"""Calibration and held-out token batches: the zoo's ``text`` set (English sentences from the
Python standard library's docstrings) or a user's file (plain text, or JSONL with a "text"
field), tokenised by the checkpoint's tokenizer when it has one, else as UTF-8 bytes (random
checkpoints in tests and benchmarks have no tokenizer)."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from prunekit.errors import InputError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


@dataclass(frozen=True)
class TokenSets:
    calibration: list[torch.Tensor]  # batches of (batch, seq_len) token ids
    heldout: list[torch.Tensor]
    tokenizer: str  # "checkpoint" or "bytes"


def read_text(source: str) -> str:
    """``"text"`` for the zoo's sentences, else a path to a .txt or .jsonl file."""
    if source == "text":
        from prunekit.zoo.text import stdlib_sentences

        return " ".join(stdlib_sentences())
    path = Path(source)
    if not path.is_file():
        raise InputError(
            f"--calibration {source}: no such file; fix: pass 'text' (the zoo's English text) or "
            "a .txt / .jsonl file"
        )
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".jsonl":
        return raw
    texts = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            texts.append(str(json.loads(line)["text"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(
                f"{path}:{number} is not a JSON object with a 'text' field ({exc}); fix: one "
                '{"text": "..."} per line, or pass a plain .txt file'
            ) from exc
    return "\n".join(texts)


def token_sets(
    text: str,
    checkpoint_dir: Path,
    vocab_size: int,
    samples: int,
    heldout: int,
    seq_len: int,
    batch_size: int,
) -> TokenSets:
    """``samples`` calibration sequences and ``heldout`` evaluation sequences of ``seq_len``
    tokens, cut from disjoint parts of the text (calibration first)."""
    ids, kind = _tokenise(text, checkpoint_dir, vocab_size)
    need = (samples + heldout) * seq_len
    if ids.numel() < need:
        raise InputError(
            f"the calibration text has {ids.numel():,} tokens; {samples} calibration and "
            f"{heldout} held-out sequences of {seq_len} need {need:,}; fix: a longer text, "
            "or fewer --samples or a smaller --seq-len"
        )
    sequences = ids[:need].reshape(samples + heldout, seq_len)
    return TokenSets(
        list(sequences[:samples].split(batch_size)),
        list(sequences[samples:].split(batch_size)),
        kind,
    )


def _tokenise(text: str, directory: Path, vocab_size: int) -> tuple[torch.Tensor, str]:
    if any((directory / name).is_file() for name in TOKENIZER_FILES):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return torch.tensor(ids, dtype=torch.long), "checkpoint"
    if vocab_size > 256:
        warnings.warn(
            f"{directory} has no tokenizer file ({', '.join(TOKENIZER_FILES)}): calibrating on "
            "UTF-8 bytes as token ids, which a trained model never saw; copy its tokenizer "
            "into the folder for meaningful scores",
            stacklevel=3,
        )
    data = torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).long()
    return data % vocab_size, "bytes"
