"""Engine commands: every change, one transaction each."""
