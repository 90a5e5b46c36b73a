import pytest

from hashhop.curriculum import Curriculum, Phase, stage_spec
from hashhop.errors import SpecError
from hashhop.generate import build


def test_stage_specs_ask_for_what_each_stage_trains():
    pairs = build(stage_spec("pairs", 2000, 3), 0)[0]
    assert all(q.hops == 1 for q in pairs.queries)
    multi = build(stage_spec("multistep", 2000, 3), 0)[0]
    assert all(q.cot and q.target == " = ".join(q.path[1:]) for q in multi.queries)
    skip = build(stage_spec("skip", 2000, 3), 0)[0]
    assert all(not q.cot and q.target == q.path[-1] for q in skip.queries)


def test_unknown_stage_is_refused():
    with pytest.raises(SpecError, match="unknown curriculum stage"):
        stage_spec("telepathy", 1000, 1)


def test_schedule_grows_hops_and_size_and_never_repeats_samples():
    cur = Curriculum((Phase("pairs", 10, (1, 1), (512, 512)), Phase("skip", 10, (1, 4), (512, 4096))))
    assert cur.total_steps == 20
    assert cur.spec_at(0).query_hops == 1
    assert cur.spec_at(10).hops == 1 and cur.spec_at(19).hops == 4
    assert cur.spec_at(10).size == 512 and cur.spec_at(19).size == 4096
    seen = {(s, i) for step in range(20) for s, i in cur.batch_specs(step, 4)}
    assert len(seen) == 80
