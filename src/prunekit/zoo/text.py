"""English sentences from the Python standard library's docstrings, and sentence embeddings.

The sentences are deterministic for a given Python version: a fixed list of modules, their
public names in sorted order, ``inspect.getdoc`` text cut into sentences and filtered.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset as TorchDataset

MODULES = (
    "abc",
    "argparse",
    "array",
    "ast",
    "asyncio",
    "base64",
    "bisect",
    "calendar",
    "cmd",
    "codecs",
    "collections",
    "colorsys",
    "concurrent.futures",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "doctest",
    "email.message",
    "enum",
    "filecmp",
    "fnmatch",
    "fractions",
    "ftplib",
    "functools",
    "getopt",
    "gettext",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html.parser",
    "http.client",
    "http.server",
    "imaplib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "locale",
    "logging",
    "mailbox",
    "mimetypes",
    "multiprocessing",
    "numbers",
    "operator",
    "optparse",
    "os",
    "pathlib",
    "pdb",
    "pickle",
    "pkgutil",
    "platform",
    "plistlib",
    "poplib",
    "pprint",
    "queue",
    "random",
    "re",
    "sched",
    "secrets",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "signal",
    "smtplib",
    "socket",
    "socketserver",
    "sqlite3",
    "ssl",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "timeit",
    "tokenize",
    "traceback",
    "typing",
    "unittest",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "warnings",
    "wave",
    "weakref",
    "xml.dom.minidom",
    "zipfile",
    "zlib",
)
_SENTENCE_END = re.compile(r"(?<=[a-z0-9\)][.!?])\s+(?=[A-Z])")
_PLAIN = re.compile(r"^[A-Z][A-Za-z0-9 ,;:'\"()\-/.!?]+[.!?]$")


@cache
def stdlib_sentences(limit: int | None = None) -> tuple[str, ...]:
    """Unique English sentences of 40 to 200 characters, in a fixed order."""
    seen: dict[str, None] = {}
    for module_name in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a module this Python lacks
            continue
        for doc in _docstrings(module):
            for sentence in _sentences(doc):
                seen.setdefault(sentence)
                if limit is not None and len(seen) >= limit:
                    return tuple(seen)
    return tuple(seen)


def _docstrings(module: Any) -> list[str]:
    docs = [inspect.getdoc(module) or ""]
    members = vars(module)  # not getattr: that would trigger deprecated module attributes
    for name in sorted(members):
        if name.startswith("_"):
            continue
        obj = members[name]
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(
            obj, "__module__", None
        ) == module.__name__:
            docs.append(inspect.getdoc(obj) or "")
    return docs


def _sentences(doc: str) -> list[str]:
    out = []
    for paragraph in re.split(r"\n\s*\n", doc):
        text = " ".join(paragraph.split())
        for sentence in _SENTENCE_END.split(text):
            if (
                40 <= len(sentence) <= 200
                and _PLAIN.match(sentence)
                and ">>>" not in sentence
                and len(sentence.split()) >= 7
            ):
                out.append(sentence)
    return out


class TextDataset(TorchDataset[str]):
    """A list of sentences as a torch Dataset (a DataLoader batches them into lists)."""

    def __init__(self, sentences: Sequence[str]) -> None:
        self.sentences = list(sentences)

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, index: int) -> str:
        return self.sentences[index]


@torch.no_grad()
def sentence_embeddings(
    model: nn.Module,
    tokenizer: Any,
    sentences: Sequence[str],
    batch_size: int = 32,
    max_length: int = 128,
) -> torch.Tensor:
    """Mean-pooled, L2-normalised embeddings, as sentence-transformers computes them."""
    device = next(model.parameters()).device
    chunks = []
    for start in range(0, len(sentences), batch_size):
        batch = tokenizer(
            list(sentences[start : start + batch_size]),
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        batch = {k: v.to(device) for k, v in batch.items()}
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        chunks.append(torch.nn.functional.normalize(pooled, dim=-1))
    return torch.cat(chunks)
