"""Datasets: synthetic acquisitions (and, later, HRSC2016, DOTA, pairs)."""
