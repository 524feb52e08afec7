"""Persistence: the database handle, the tables, and the one path every instance change takes."""
