"""The pure core: statistics, profiles and detectors.

No I/O, no clock, no logging set-up, no web or storage framework: only numpy, scipy
and sketches. This is the part a data scientist imports into a notebook.
"""
