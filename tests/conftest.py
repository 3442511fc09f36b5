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
def postgres_url():
    """A PostgreSQL 16 + pgvector server for the run (the pgserver package), stopped and deleted at its end. Its data
    folder is not under pytest's temporary folder: the server runs as its own system user, which cannot enter
    pytest's (mode 700, reset by every pytest session)."""
    import shutil
    import tempfile

    import pgserver

    folder = tempfile.mkdtemp(prefix="amend-postgres-")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)
