"""hashhop: the HashHop long-context benchmark.

Generate seeded, collision-free, token-exact HashHop problems; evaluate any model on them;
report the results. See README.md.
"""

from hashhop.core.errors import HashhopError, SpecError
from hashhop.generator.build import build, generate, make_sample
from hashhop.generator.reference import MultiHopEval, MultiHopSample
from hashhop.generator.sample import Query, Sample
from hashhop.generator.spec import Spec, parse_size

__version__ = "0.2.0"

__all__ = [
    "HashhopError",
    "MultiHopEval",
    "MultiHopSample",
    "Query",
    "Sample",
    "Spec",
    "SpecError",
    "__version__",
    "build",
    "generate",
    "load_run",
    "make_sample",
    "parse_size",
]


def load_run(run_dir: str):
    """The records of a run folder (`runs/NAME`) as a pandas DataFrame: one row per query, with the
    record fields of docs/records.md and the cell's coordinates as `cell_*` columns."""
    from hashhop.evaluate.store import load_run as _load_run  # lazy: keeps `import hashhop` light

    return _load_run(run_dir)
