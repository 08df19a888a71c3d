"""The only place with time, threads and ordering."""
