"""Coverage-guided fuzzing of the engine's parsers and servicers (docs/robustness.md, "Fuzzing").

One harness module per target; :mod:`fuzz.refusals` says which exceptions are a
documented refusal (anything else is a crash), :mod:`fuzz.seeds` makes the seed
corpora from real inputs, :mod:`fuzz.run` runs the harnesses (``make fuzz``).
"""
