"""Local servers that implement third parties' documented endpoints, for the tests."""
