"""Stage 2, prompt: grid cells, the instruction template around a context and a question, fitting
a context to a token budget, and the planner that turns cells into sized samples."""
