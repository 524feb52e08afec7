"""`python -m engine.bpmn._sandbox_main MEMORY_BYTES CPU_SECONDS`: a sandbox process (engine.bpmn.sandbox)."""

import sys

from engine.bpmn.sandbox import serve

serve(int(sys.argv[1]), float(sys.argv[2]))
