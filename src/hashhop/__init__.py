"""hashhop: the HashHop long-context benchmark.

Generate seeded, collision-free, token-exact HashHop problems; evaluate any model on them;
report the results. See README.md.
"""

from .errors import HashhopError, SpecError
from .generate import build, generate, make_sample
from .reference import MultiHopEval, MultiHopSample
from .sample import Query, Sample
from .spec import Spec, parse_size

__version__ = "0.1.0"

__all__ = [
    "HashhopError", "MultiHopEval", "MultiHopSample", "Query", "Sample", "Spec", "SpecError",
    "__version__", "build", "generate", "make_sample", "parse_size",
]
