"""SalesDesk: lead allocation for a sales call floor."""

__version__ = "0.1.0"
