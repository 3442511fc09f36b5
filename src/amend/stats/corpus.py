"""Text corpora with a stable identity, for statistics that are cached by what they were computed on."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from amend.errors import ConfigError


@dataclass(frozen=True)
class Corpus:
    """An iterable of documents and a string that identifies its content (part of every cache key)."""

    identity: str
    documents: Callable[[], Iterable[str]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.documents())

    @classmethod
    def from_texts(cls, texts: Sequence[str], name: str = "texts") -> Corpus:
        texts = list(texts)
        digest = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:16]
        return cls(identity=f"{name}-{digest}", documents=lambda: texts)

    @classmethod
    def from_file(cls, path: str | Path) -> Corpus:
        """One document per non-empty line of a UTF-8 text file."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"corpus file {path} does not exist")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]

        def documents() -> Iterator[str]:
            with path.open(encoding="utf-8") as lines:
                yield from (line.strip() for line in lines if line.strip())

        return cls(identity=f"{path.stem}-{digest}", documents=documents)

    @classmethod
    def from_hub(cls, name: str, config: str | None = None, split: str = "train", field: str = "text") -> Corpus:
        """A `datasets` corpus, streamed (needs the network and ``pip install amend[datasets]``)."""

        def documents() -> Iterator[str]:
            try:
                import datasets
            except ImportError as err:
                raise ConfigError("hub corpora need the `datasets` package: pip install 'amend[datasets]'") from err
            rows = datasets.load_dataset(name, config, split=split, streaming=True)
            yield from (row[field] for row in rows if row[field].strip())

        return cls(identity=f"hf-{name.replace('/', '_')}-{config or 'default'}-{split}", documents=documents)

    @classmethod
    def resolve(cls, spec: str | Path | Corpus | Sequence[str]) -> Corpus:
        """A corpus from a spec: a list of texts, a path to a text file, or ``hf:NAME[:CONFIG]`` (e.g.
        ``hf:wikitext:wikitext-103-raw-v1``)."""
        if isinstance(spec, Corpus):
            return spec
        if not isinstance(spec, (str, Path)):
            return cls.from_texts(spec)
        spec = str(spec)
        if spec.startswith("hf:"):
            name, _, config = spec[3:].partition(":")
            return cls.from_hub(name, config or None)
        return cls.from_file(spec)
