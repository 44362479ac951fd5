"""The Python Cassandra client side: one connection from settings, and the keyspace's DDL."""
