"""Fault injection on the whole local stack (`make chaos`): each scenario runs the synthesized state
machine with the real handlers against the emulator and the run's DynamoDB (DynamoDB Local), injects one
kind of fault, and ends with the exactly-once verification."""
