"""Grain analysis: boundary masks -> grain instances -> statistics, metrics, realism.

Qt-free; the widgets and the command line share it.
"""
