"""The three pretext tasks. Each module exposes the same shape (see ``videossr.tasks.base``)."""
