"""The entry-point plumbing every command of the project shares: exit codes, the errors a person acts on,
argument types and the runner that turns an error into two lines on stderr and its exit code. The CLI
(neptune_cli), the emulator (neptune_emulator) and the local run (neptune_local) import it, and it imports
none of them: standard library only, with the shared names of neptune_capture.contract."""
