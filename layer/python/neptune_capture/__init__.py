"""Code shared by the neptune-stream Lambdas: a pure capture core and thin AWS adapters."""
