#!/usr/bin/env python3
"""CDK entry point (cdk.json runs it): see neptune_stream/app.py."""

import os

# The construct library records a stack trace with every annotation, and the CDK CLI prints its first frame
# above each warning: in a Python app that frame is the jsii runtime's own bundle in a temporary folder
# (`/tmp/tmpXXXX/lib/program.js:1:5591`), which says nothing about the app. The library records none when
# CDK_DISABLE_STACK_TRACE is set; it is read by the jsii runtime's Node process, which inherits this
# environment when the import below starts it. Set it to an empty value to keep the traces.
os.environ.setdefault("CDK_DISABLE_STACK_TRACE", "1")

from neptune_stream.app import build_app

if __name__ == "__main__":
    build_app().synth()
