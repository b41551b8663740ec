"""Example exports for `samenloop gateway check` (data files), and `examples.render`."""
