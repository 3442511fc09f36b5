import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch

# Tests use tiny models, for which one thread is fastest and leaves the other core free.
torch.set_num_threads(1)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def embedder():
    """The default sentence embedder (all-MiniLM-L6-v2 from its package), loaded once for the run."""
    from amend.knowledge import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A PostgreSQL 16 + pgvector server for the run (the pgserver package), stopped at its end."""
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()
