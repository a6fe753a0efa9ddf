"""One module per command: each builds its answer (pure where it can) and shows it."""
