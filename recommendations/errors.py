class RecommenderError(Exception):
    """Root of the recommender's errors; str(exc) is a message meant for people."""


class InvalidRequest(RecommenderError):
    """Bad input from a request (e.g. top_n out of range)."""
