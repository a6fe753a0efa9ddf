"""The operator CLI, `neptune-stream`: the local run or a deployed stack."""
