"""Developer tools, not shipped: clip generators with known ground truth, the accuracy report
(eval), the speed and memory benchmark (bench), the load test (load), the layering check."""
