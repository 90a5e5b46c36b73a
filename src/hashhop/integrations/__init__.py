"""Adapters that put HashHop inside the harnesses people already run.

- `hashhop.integrations.lm_eval`: lm-evaluation-harness task files (`--include_path`).
- `hashhop.integrations.inspect_task`: the inspect_ai task `hashhop/hashhop`.
- `hashhop.integrations.documents`: what both share: documents generated from a seed, sized in the
  model's tokens, and scored by hashhop's own scorer.

Each harness is imported only inside its own module, so importing this package needs neither.
"""
