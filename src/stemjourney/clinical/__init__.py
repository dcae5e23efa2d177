"""Clinical values: validation, vocabulary, records, scores, patients, protocols, instruments.

The bottom layer: everything else builds on these values, and nothing here imports
from the journey engine, the store, outcomes, reports or exports. Use the public
names re-exported by :mod:`stemjourney` and :mod:`stemjourney.outcomes`.
"""
