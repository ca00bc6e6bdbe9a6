"""`make bench`: cold imports, warm webhook compute, AWS work and cost per order, package sizes.

Not a test: it prints measured figures (each with how it was measured) and never judges them.
Run one section with `python -m tests.bench cold|warm|aws|packages`.
"""
