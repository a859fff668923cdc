"""Pure, deterministic folds of complaint events into read models. No Faust, no I/O, no clock."""
