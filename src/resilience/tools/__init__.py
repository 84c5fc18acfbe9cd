"""Tooling around the library: the command line, the demo, the load generator, the simulators
and chaos experiments. Nothing on a service's call path imports this package."""
