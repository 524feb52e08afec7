"""The BPMN layer over SpiffWorkflow: parsing with our extensions, specs, the script engine, state I/O."""
