"""Generated exam clips with known ground truth."""
