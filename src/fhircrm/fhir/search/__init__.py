"""Search parameters: the registry of definitions, extraction of index values, parsing of queries."""
