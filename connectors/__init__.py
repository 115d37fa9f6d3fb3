"""The outside world: the article archive, RSS/Atom feeds and Redis."""
