"""Tests of psfusion.metrics."""
