"""Stage 1, generate: the Spec and everything that makes, stores and checks HashHop problems.

spec -> keyed/hashes/layout/decoys/render -> problem -> build (samples) -> dataset/verify/card.
Imports only `hashhop.core`.
"""
