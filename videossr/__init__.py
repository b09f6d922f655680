"""VideoSSR: video self-supervised reinforcement learning.

Turns raw, unlabeled videos into verifiable training data for GRPO (three pretext tasks: Anomaly Grounding,
Object Counting, Temporal Jigsaw), scores model answers with smooth and strict rewards, and evaluates video
language models. See README.md for the pipeline and the commands.
"""

__version__ = "0.1.0"
