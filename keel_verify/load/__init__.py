"""Reading: input bytes -> a detected artifact (strict loader, optional native speed-ups,
typed member access, the single pass over chain entries)."""
