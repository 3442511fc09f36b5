import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch

# Tests use tiny models, for which one thread is fastest and leaves the other core free.
torch.set_num_threads(1)
