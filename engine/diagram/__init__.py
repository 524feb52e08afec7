"""Diagrams before they run: read them safely, check them (every problem, each with its file, line
and element), and compare two versions.

* `xml` decodes a diagram under its declared or detected encoding and refuses DOCTYPE and entities
  before anything parses it;
* `model` reads the processes, elements and flows a check or a comparison needs;
* `lint` runs every check (also run by deploy); `diff` compares two versions of a process.
"""
