"""Test doubles for the world outside the engine: a test UZI-register, a
simulated desktop app holding a UZI-pas, a simulated phone. Used by the
tests, the benchmarks and ``zorgid demo``; never by the engine itself."""
