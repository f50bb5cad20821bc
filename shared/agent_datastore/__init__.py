"""Agent Data Store: the common core shared by every function, server and tool."""

__version__ = "0.1.0"
