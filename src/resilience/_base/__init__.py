"""The base every other package stands on: clocks, metadata key names, method patterns,
private files and lazy optional imports. Imports nothing of ``resilience`` but its errors."""
