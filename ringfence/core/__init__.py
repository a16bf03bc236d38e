"""The bottom layer: settings, the error hierarchy, the card-number policy and time helpers.

Imports nothing else of ringfence; every other layer may import it.
"""
