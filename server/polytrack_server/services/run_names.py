"""Readable names for runs created without one, such as `amber-falcon-417`."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "curious", "daring", "eager",
    "fast", "fierce", "gentle", "glad", "golden", "grand", "happy", "hidden", "honest", "keen",
    "kind", "lively", "loyal", "lucky", "merry", "mighty", "misty", "noble", "patient", "polite",
    "proud", "quick", "quiet", "rapid", "rare", "silent", "silver", "sleek", "smooth", "snowy",
    "steady", "stellar", "sunny", "swift", "tidy", "upbeat", "vivid", "warm", "wise", "witty",
)
_NOUNS = (
    "badger", "bear", "bison", "comet", "condor", "crane", "dolphin", "eagle", "falcon", "ferret",
    "finch", "fox", "gazelle", "gecko", "heron", "horizon", "ibis", "jaguar", "kestrel", "koala",
    "lark", "lemur", "lynx", "marten", "meadow", "moose", "nebula", "newt", "orca", "osprey",
    "otter", "owl", "panda", "pelican", "puffin", "quasar", "raven", "river", "robin", "salmon",
    "seal", "sparrow", "stork", "summit", "tiger", "trout", "walrus", "whale", "wren", "yak",
)


def generate_run_name(rng: random.Random | None = None) -> str:
    """An `adjective-noun-NNN` name; unique enough to tell runs apart at a glance."""
    chooser = rng or random
    return f"{chooser.choice(_ADJECTIVES)}-{chooser.choice(_NOUNS)}-{chooser.randint(0, 999)}"
