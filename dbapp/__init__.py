"""dbapp: a relational document database for news, on PostgreSQL."""

__version__ = "0.1.0"
