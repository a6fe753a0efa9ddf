"""CDK constructs of neptune-stream: one module per concern, composed in stack.py."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER_PYTHON = ROOT / "layer" / "python"
LAMBDAS = ROOT / "lambdas"

# The shared Lambda code lives in the layer's python/ folder (on /opt/python in Lambda); the stack and
# the local run import the very same modules, e.g. the table key names.
if str(LAYER_PYTHON) not in sys.path:
    sys.path.insert(0, str(LAYER_PYTHON))
