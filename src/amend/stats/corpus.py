"""Text corpora with a stable identity, for statistics that are cached by what they were computed on."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from amend.errors import ConfigError


@dataclass(frozen=True)
class Corpus:
    """An iterable of documents and a string that identifies its content (part of every cache key).

    ``shuffled(seed)``, when given, yields the documents in a seeded random order without holding them all in memory
    (a file, a streamed dataset); otherwise :meth:`sample` shuffles a list of them.
    """

    identity: str
    documents: Callable[[], Iterable[str]]
    shuffled: Callable[[int], Iterable[str]] | None = None

    def __iter__(self) -> Iterator[str]:
        return iter(self.documents())

    def sample(self, seed: int | None) -> Iterator[str]:
        """The documents in corpus order (``seed`` None), or drawn at random without replacement with ``seed``: a
        token budget then keeps a uniform sample of the corpus rather than its first documents, as the original
        methods' statistics do."""
        if seed is None:
            return iter(self)
        if self.shuffled is not None:
            return iter(self.shuffled(seed))
        documents = list(self.documents())
        order = list(range(len(documents)))
        random.Random(seed).shuffle(order)
        return (documents[i] for i in order)

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

        def shuffled(seed: int) -> Iterator[str]:
            # Offsets of the non-empty lines (8 bytes each), then the lines in a seeded order: a uniform draw from a
            # file of any size without reading it into memory.
            offsets, position = [], 0
            with path.open("rb") as raw:
                for line in raw:
                    if line.strip():
                        offsets.append(position)
                    position += len(line)
            random.Random(seed).shuffle(offsets)
            with path.open("rb") as raw:
                for offset in offsets:
                    raw.seek(offset)
                    yield raw.readline().decode("utf-8").strip()

        return cls(identity=f"{path.stem}-{digest}", documents=documents, shuffled=shuffled)

    @classmethod
    def from_hub(cls, name: str, config: str | None = None, split: str = "train", field: str = "text") -> Corpus:
        """A `datasets` corpus, streamed (needs the network and ``pip install amend[datasets]``)."""

        def stream(seed: int | None = None) -> Iterator[str]:
            try:
                import datasets
            except ImportError as err:
                raise ConfigError("hub corpora need the `datasets` package: pip install 'amend[datasets]'") from err
            rows = datasets.load_dataset(name, config, split=split, streaming=True)
            if seed is not None:  # a streamed dataset shuffles its shards and a buffer of rows: nearly uniform
                rows = rows.shuffle(seed=seed, buffer_size=10_000)
            yield from (row[field] for row in rows if row[field].strip())

        return cls(
            identity=f"hf-{name.replace('/', '_')}-{config or 'default'}-{split}", documents=stream, shuffled=stream
        )

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
