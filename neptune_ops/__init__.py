"""Operating a capture, shared by the CLI (neptune_cli) and the local run (neptune_local), which import it
and are imported by neither it nor each other for it: the target a command acts on (target: a deployed
stack's outputs or the local run's endpoints file), starting and stopping capture (control, schedule), and
the explanations of AWS and Neptune errors (explain)."""
