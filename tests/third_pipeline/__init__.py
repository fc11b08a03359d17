"""A third pipeline that lives only in the tests: proof that adding one is a package + a line."""
