"""CDK constructs of neptune-stream, one module per concern, composed in stack.py; app.py builds the app."""
