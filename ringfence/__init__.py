"""ringfence: fraud-ring detection over an account–identifier graph."""

__version__ = "0.1.0"
