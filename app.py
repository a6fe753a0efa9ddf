#!/usr/bin/env python3
"""CDK entry point (cdk.json runs it): see neptune_stream/app.py."""

from neptune_stream.app import build_app

if __name__ == "__main__":
    build_app().synth()
